//! Goal runs as a user drives them: `nca train --emoji 🦎 🦋` trains one model of two goals, its
//! config.toml trains the same run again, `nca grow --goal` grows each goal, the exports (the
//! page, the weights for Python) hold its goals, `nca serve` offers them, and what cannot take a
//! goal model yet says so in one line.

mod support;

use std::path::Path;

use support::server::{Server, next_answer, next_text};
use support::{fails, ok, ok_notes};
use tungstenite::Message;

/// A tiny goal run of the two embedded emoji into `out` (under `dir`); returns its messages.
fn train_two_goals(dir: &Path, out: &str) -> String {
    ok_notes(
        &[
            "train",
            "--emoji",
            "🦎",
            "🦋",
            "--target-size",
            "12",
            "--padding",
            "2",
            "--batch-size",
            "4",
            "--pool-size",
            "8",
            "--damaged",
            "1",
            "--min-steps",
            "4",
            "--max-steps",
            "6",
            "--iterations",
            "3",
            "--checkpoint-every",
            "1",
            "--out",
            out,
        ],
        dir,
    )
}

/// The first loss a run recorded.
fn first_loss(run: &Path) -> f64 {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    line["loss"].as_f64().unwrap()
}

#[test]
fn several_emoji_train_a_goal_run_whose_config_trains_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let notes = train_two_goals(dir.path(), "first");
    assert!(notes.contains("goal run of 🦎, 🦋"), "{notes}");
    assert!(notes.contains("growth.gif shows every goal"), "{notes}");
    let first = dir.path().join("first");
    let config = std::fs::read_to_string(first.join("config.toml")).unwrap();
    assert!(config.contains("[goals]"), "{config}");
    assert!(!config.contains("[target]"), "{config}");
    assert_eq!(config.matches("[[goals.targets]]").count(), 2, "{config}");
    for emoji in ["🦎", "🦋"] {
        assert!(config.contains(&format!("emoji = \"{emoji}\"")), "{config}");
    }
    assert!(
        config.contains("size = 12") && config.contains("padding = 2"),
        "{config}"
    );
    assert!(config.contains("morph_share = 0.25"), "{config}");
    for file in ["model.nca", "growth.gif", "pool.png"] {
        assert!(first.join(file).is_file(), "{file} missing");
    }
    // Both goals side by side.
    let (width, height) = image::image_dimensions(first.join("growth.gif")).unwrap();
    assert!(width > height * 3 / 2, "{width}x{height}");
    let info = ok(&["info", "first/model.nca"], dir.path());
    assert!(info.contains("goals: 🦎, 🦋"), "{info}");
    // Reused with --config alone: the same goals, targets and first loss.
    ok(
        &["train", "--config", "first/config.toml", "--out", "second"],
        dir.path(),
    );
    let again = std::fs::read_to_string(dir.path().join("second/config.toml")).unwrap();
    assert_eq!(again, config);
    assert_eq!(first_loss(&first), first_loss(&dir.path().join("second")));
}

#[test]
fn a_goal_run_without_a_pool_trains_no_morphs_and_morph_share_is_a_goal_runs_flag() {
    let dir = tempfile::tempdir().unwrap();
    let growing = [
        "train",
        "--emoji",
        "🦎",
        "🦋",
        "--experiment",
        "growing",
        "--target-size",
        "12",
        "--padding",
        "2",
        "--batch-size",
        "2",
        "--min-steps",
        "2",
        "--max-steps",
        "4",
        "--iterations",
        "1",
        "--out",
        "growing",
    ];
    ok(&growing, dir.path());
    let config = std::fs::read_to_string(dir.path().join("growing/config.toml")).unwrap();
    assert!(config.contains("morph_share = 0.0"), "{config}");
    let mut morphing = growing.to_vec();
    morphing.extend(["--morph-share", "0.5"]);
    let line = fails(&morphing, dir.path());
    assert!(
        line.contains("morph_share") && line.contains("pool"),
        "{line}"
    );
    let line = fails(
        &["train", "--emoji", "🦎", "--morph-share", "0.5"],
        dir.path(),
    );
    assert!(
        line.contains("--morph-share applies to a goal run"),
        "{line}"
    );
}

#[test]
fn grow_and_regenerate_grow_the_goal_named_and_refuse_others_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    train_two_goals(dir.path(), "run");
    let grow = |goal: Option<&str>, out: &str| {
        let mut args = vec!["grow", "--model", "run", "--steps", "12", "--out", out];
        if let Some(goal) = goal {
            args.extend(["--goal", goal]);
        }
        let notes = ok_notes(&args, dir.path());
        (notes, std::fs::read(dir.path().join(out)).unwrap())
    };
    let (notes, first) = grow(None, "default.png");
    assert!(notes.contains("goals 🦎, 🦋"), "{notes}");
    let (_, lizard) = grow(Some("🦎"), "lizard.png");
    let (notes, butterfly) = grow(Some("🦋"), "butterfly.png");
    assert!(!notes.contains("goals 🦎, 🦋"), "{notes}");
    assert_eq!(first, lizard, "without --goal, goal 0 grows");
    assert_ne!(lizard, butterfly, "each goal grows its own picture");
    ok(
        &[
            "regenerate",
            "--model",
            "run",
            "--goal",
            "🦋",
            "--grow-steps",
            "6",
            "--regrow-steps",
            "6",
            "--out",
            "regrown.png",
        ],
        dir.path(),
    );
    let line = fails(
        &["grow", "--model", "run", "--goal", "🐢", "--out", "x.png"],
        dir.path(),
    );
    assert!(
        line.contains("🐢 is not a goal of run; it has 🦎, 🦋"),
        "{line}"
    );
    let line = fails(
        &["grow", "--model", "gecko", "--goal", "🦋", "--out", "x.png"],
        dir.path(),
    );
    assert!(line.contains("gecko has no goals"), "{line}");
    let line = fails(
        &[
            "regenerate",
            "--model",
            "gecko",
            "--goal",
            "🦋",
            "--out",
            "x.png",
        ],
        dir.path(),
    );
    assert!(line.contains("gecko has no goals"), "{line}");
}

/// The models' JSON of a page `nca export --format html` wrote.
fn page_models(page: &str) -> serde_json::Value {
    let start = r#"<script id="nca-models" type="application/json">"#;
    let json = page
        .split_once(start)
        .unwrap()
        .1
        .split_once("</script>")
        .unwrap()
        .0;
    serde_json::from_str(json).unwrap()
}

#[test]
fn exports_hold_a_goal_models_goals() {
    let dir = tempfile::tempdir().unwrap();
    train_two_goals(dir.path(), "run");
    ok(
        &[
            "export",
            "--model",
            "run",
            "gecko",
            "--format",
            "html",
            "--out",
            "page.html",
        ],
        dir.path(),
    );
    let page = std::fs::read_to_string(dir.path().join("page.html")).unwrap();
    let json = page_models(&page);
    let [run, gecko] = [&json["models"][0], &json["models"][1]];
    assert_eq!(run["name"], "run");
    assert_eq!(run["goals"], serde_json::json!(["🦎", "🦋"]));
    let biases = run["goal_biases"].as_array().unwrap();
    assert_eq!(biases.len(), 2);
    for bias in biases {
        assert_eq!(
            bias.as_array().unwrap().len(),
            128,
            "one hidden bias per goal"
        );
    }
    assert_ne!(biases[0], biases[1], "each goal its own bias");
    assert_eq!(gecko["goals"], serde_json::json!([]));
    assert_eq!(gecko["goal_biases"], serde_json::json!([]));

    ok(
        &[
            "export",
            "--model",
            "run",
            "--format",
            "safetensors",
            "--out",
            "w.safetensors",
        ],
        dir.path(),
    );
    let bytes = std::fs::read(dir.path().join("w.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().as_ref().unwrap();
    assert_eq!(metadata["goals"], r#"["🦎","🦋"]"#);
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.tensor("goal.embedding").unwrap().shape()[0], 2);

    // The paper's web-demo format has no goal input: still refused, with the reason.
    let line = fails(
        &[
            "export",
            "--model",
            "run",
            "--format",
            "distill",
            "--out",
            "demo.json",
        ],
        dir.path(),
    );
    assert!(line.contains("goal-conditioned (2 goals)"), "{line}");
    assert!(!dir.path().join("demo.json").exists());
}

/// `nca serve` offers a goal model's goals: its hello names them, a goal message switches the
/// goal, a goal it does not have is refused, and a model without goals offers none; the page's
/// goal menu lists them and shows only for the goal model.
#[test]
fn serve_offers_a_goal_models_goals_and_refuses_goals_it_has_not() {
    let dir = tempfile::tempdir().unwrap();
    train_two_goals(dir.path(), "run");
    let server = Server::spawn_in(dir.path(), &["--model", "run", "gecko", "--grid", "16"]);
    let mut socket = server.socket().unwrap();
    let hello = next_text(&mut socket);
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["models"], serde_json::json!(["run", "gecko"]));
    assert_eq!(hello["goals"], serde_json::json!(["🦎", "🦋"]));
    assert_eq!(hello["goal"], 0);
    let send = |socket: &mut tungstenite::WebSocket<_>, text: &str| {
        socket.send(Message::text(text)).unwrap();
    };
    send(&mut socket, r#"{"type":"goal","index":1}"#);
    send(&mut socket, r#"{"type":"goal","index":2}"#);
    // Answered in order: the first refusal is the second message's, so goal 1 was taken.
    let refused = next_answer(&mut socket);
    assert_eq!(refused["type"], "refused", "{refused}");
    assert_eq!(
        refused["reason"], "there is no goal 2: the model has 2 goals",
        "{refused}"
    );
    send(&mut socket, r#"{"type":"model","index":1}"#);
    let hello = next_answer(&mut socket);
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["goals"], serde_json::json!([]));
    assert_eq!(hello["goal"], 0);
    send(&mut socket, r#"{"type":"goal","index":0}"#);
    let refused = next_answer(&mut socket);
    assert!(
        refused["reason"].as_str().unwrap().contains("no goals"),
        "{refused}"
    );
    drop(socket);
    // The page's goal menu, in headless Chromium.
    if let Some(browser_dir) = support::browser_tests("`nca serve`'s goal menu") {
        let address = format!("http://{}/", server.address);
        let (passed, report) =
            support::run_browser_script(&browser_dir, "serve-goals.mjs", &[address]);
        assert!(passed, "browser test failed:\n{report}");
        println!("{report}");
    }
    let (status, log) = server.interrupt();
    assert!(status.success(), "{log}");
}

#[test]
fn eval_scores_each_goal_against_its_own_target_with_a_morph_line() {
    let dir = tempfile::tempdir().unwrap();
    train_two_goals(dir.path(), "run");
    let args = [
        "eval",
        "--model",
        "run",
        "--seeds",
        "1",
        "--json",
        "eval.json",
        "--sheet",
        "sheet.png",
    ];
    let table = ok(&args, dir.path());
    // Each goal's sheet has a 4th row, its morphs: 4 rows of 2x pictures of the 16-cell grid
    // under 11-pixel captions, under a title line, 8 pixels between sheets.
    let (_, height) = image::image_dimensions(dir.path().join("sheet.png")).unwrap();
    assert_eq!(height, 2 * (12 + 4 * (2 * 16 + 11 + 1) + 8));
    let summary = ok(
        &["eval", "--model", "run", "--seeds", "1", "--summary"],
        dir.path(),
    );
    assert!(
        summary.contains("| morph MSE @200, mean over the other goals |"),
        "{summary}"
    );
    let rows: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("| run, goal"))
        .collect();
    assert_eq!(rows.len(), 2, "{summary}");
    for row in rows {
        assert_eq!(row.matches(" | ").count(), 5, "{row}");
    }
    let header = table
        .lines()
        .find(|line| line.contains("run, goal"))
        .unwrap();
    assert!(
        header.contains("run, goal 🦎") && header.contains("run, goal 🦋"),
        "{table}"
    );
    for goal in ["🦎", "🦋"] {
        let row = table
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("morph → {goal}")))
            .unwrap_or_else(|| panic!("no morph → {goal} row in {table}"));
        // One figure: the other goal's column; the goal's own column has no morph into itself.
        assert_eq!(
            row.matches("e-").count() + row.matches("e0").count(),
            1,
            "{row}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eval.json")).unwrap())
            .unwrap();
    assert_eq!(json["settings"]["morph_steps"], 200, "{json}");
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 2, "{json}");
    for (entry, (goal, other)) in models.iter().zip([("🦎", "🦋"), ("🦋", "🦎")]) {
        let card = &entry["scorecard"];
        assert_eq!(entry["model"], "run");
        assert_eq!(card["goal"], goal);
        let reference = card["reference"]["target"]["description"].as_str().unwrap();
        assert!(
            reference.starts_with(&format!("{goal}'s target")),
            "{reference}"
        );
        assert_eq!(card["growth"].as_array().unwrap().len(), 3);
        let morph = card["morph"].as_array().unwrap();
        assert_eq!(morph.len(), 1, "{card}");
        assert_eq!(morph[0]["to"], other);
        assert!(morph[0]["mse"]["mean"].as_f64().unwrap() >= 0.0);
    }
    let line = fails(&["eval", "--model", "run", "--emoji", "🦎"], dir.path());
    assert!(line.contains("goal model") && line.contains("🦋"), "{line}");
}

#[test]
fn grow_then_morphs_the_grown_pattern_into_the_next_goal() {
    let dir = tempfile::tempdir().unwrap();
    train_two_goals(dir.path(), "run");
    let grow = |extra: &[&str], out: &str| {
        let mut args = vec!["grow", "--model", "run", "--grid", "16"];
        args.extend(extra);
        args.extend(["--out", out]);
        let notes = ok_notes(&args, dir.path());
        (notes, support::read_npy(&dir.path().join(out)))
    };
    let (_, (shape, lizard)) = grow(&["--goal", "🦎", "--steps", "6"], "lizard.npy");
    let (notes, (morph_shape, morph)) = grow(
        &["--goal", "🦎", "--then", "🦋", "--steps", "6"],
        "morph.npy",
    );
    assert!(notes.contains("12 steps: 🦎 → 🦋, 6 steps each"), "{notes}");
    // Every 2nd step: 4 frames toward the lizard, then 3 more toward the butterfly.
    assert_eq!(shape[0], 4);
    assert_eq!(morph_shape[0], 7);
    assert_eq!(
        &morph[..lizard.len()],
        &lizard[..],
        "the morph starts as the lizard grows"
    );
    let frame = lizard.len() / 4;
    let (_, (_, on)) = grow(&["--goal", "🦎", "--steps", "12"], "on.npy");
    assert!(
        morph[6 * frame..] != on[on.len() - frame..],
        "after the switch the pattern grows toward the butterfly"
    );
    let line = fails(
        &["grow", "--model", "run", "--then", "🐢", "--out", "x.png"],
        dir.path(),
    );
    assert!(
        line.contains("🐢 is not a goal of run; it has 🦎, 🦋"),
        "{line}"
    );
    // The steps of every goal add up: each stretch is bounded, so the sum cannot overflow.
    let line = fails(
        &[
            "grow",
            "--model",
            "run",
            "--then",
            "🦋",
            "--steps",
            "9223372036854775807",
        ],
        dir.path(),
    );
    assert!(line.contains("is not in 0..=1000000"), "{line}");
}
