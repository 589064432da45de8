//! The `nca` binary driven as a user would, at tiny sizes: every command's happy path with its
//! outputs checked, and every bad input answered by one clear line, a non-zero exit and nothing
//! overwritten.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::AnimationDecoder;

mod support;
use support::{error_line, fails, nca, ok};

/// One of the paper's models, as a command-line argument.
fn paper_model(name: &str) -> String {
    nca_tests::paper_model(name).display().to_string()
}

/// Arguments of a tiny regenerating run: 12x12 grid, pool 4, batch 2, 2–3 steps.
const TINY: &[&str] = &[
    "train",
    "--emoji",
    "🦎",
    "--target-size",
    "8",
    "--padding",
    "2",
    "--batch-size",
    "2",
    "--pool-size",
    "4",
    "--damaged",
    "1",
    "--min-steps",
    "2",
    "--max-steps",
    "4",
    "--checkpoint-every",
    "1",
];

fn tiny_run(dir: &Path, iterations: &str) -> PathBuf {
    let run = dir.join("run");
    let mut args = TINY.to_vec();
    args.extend(["--iterations", iterations, "--out", run.to_str().unwrap()]);
    ok(&args, dir);
    run
}

fn gif_frames(path: &Path) -> Vec<image::Frame> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap()
}

#[test]
fn help_describes_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(&["--help"], dir.path());
    for command in [
        "train",
        "grow",
        "regenerate",
        "import",
        "eval",
        "info",
        "targets",
        "bench",
    ] {
        assert!(help.contains(command), "{command} missing from --help");
        let sub = ok(&[command, "--help"], dir.path());
        assert!(sub.contains("Usage: nca"), "{command} --help");
    }
    let train = ok(&["train", "--help"], dir.path());
    for flag in [
        "--emoji",
        "--image",
        "--url",
        "--experiment",
        "--config",
        "--out",
        "--resume",
        "--seed",
        "--backend",
        "--fire-rate",
        "--lr-drops",
    ] {
        assert!(train.contains(flag), "train --help lacks {flag}");
    }
}

#[test]
fn targets_lists_the_embedded_emoji() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&["targets"], dir.path());
    assert!(out.contains("🦎  emoji_u1f98e.png  (default)"), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("emoji_u")).count(), 10);
}

#[test]
fn train_writes_a_complete_run_directory_and_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), "2");
    for file in [
        "config.toml",
        "model.nca",
        "checkpoint.nckpt",
        "metrics.jsonl",
        "loss.svg",
        "growth.gif",
        "pool.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    // Growth from the seed to max_steps = 4, every 2nd step: steps 0, 2, 4; 12x12 cells at scale 4.
    let frames = gif_frames(&run.join("growth.gif"));
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].buffer().dimensions(), (48, 48));
    let pool = image::open(run.join("pool.png")).unwrap();
    assert_eq!(
        pool.width(),
        4 * (2 * 12 + 1) + 1,
        "4 pool states in a row, cells 2x2 pixels"
    );
    assert!(
        std::fs::read_to_string(run.join("loss.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("pool_size = 4"), "{config}");

    let resumed = nca(
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--iterations",
            "3",
        ],
        dir.path(),
    );
    assert!(resumed.status.success());
    let losses: Vec<f64> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(losses.len(), 3);
    // The summary: what was done, the final loss over the whole run, where things are, what next.
    let summary = String::from_utf8(resumed.stderr).unwrap();
    let mean = losses.iter().sum::<f64>() / 3.0;
    assert!(
        summary.contains("done: 3 iterations (1 in this run, ")
            && summary.contains(&format!("final loss {mean:.6} (mean of the last 3)")),
        "{summary}"
    );
    for line in [
        format!("model       {}", run.join("model.nca").display()),
        format!("checkpoint  {}", run.join("checkpoint.nckpt").display()),
        format!("next: `nca grow --model {}`", run.display()),
        format!("`nca eval --model {}`", run.display()),
    ] {
        assert!(summary.contains(&line), "{line:?} missing from {summary}");
    }
    let info = ok(&["info", run.to_str().unwrap()], dir.path());
    assert!(info.contains("iteration: 3 of 3"), "{info}");
    assert!(info.contains("parameters: 8336"), "{info}");
}

#[test]
fn train_from_a_model_starts_from_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    let first_loss = |from: &[&str]| {
        let run = dir
            .path()
            .join(if from.is_empty() { "scratch" } else { "tuned" });
        let mut args = vec!["train", "--quick", "--iterations", "1"];
        args.extend(from);
        args.extend(["--out", run.to_str().unwrap()]);
        ok(&args, dir.path());
        let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let line: serde_json::Value =
            serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
        line["loss"].as_f64().unwrap()
    };
    let scratch = first_loss(&[]);
    let tuned = first_loss(&["--from", "gecko"]);
    // The shipped gecko was trained on this very target: it starts far below random weights.
    assert!(
        tuned < scratch / 3.0,
        "from gecko {tuned}, from scratch {scratch}"
    );
}

#[test]
fn grow_and_regenerate_make_gifs_and_pngs_of_the_right_size() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("smiley.nca");
    ok(
        &[
            "import",
            &paper_model("smiley-regenerating"),
            "--out",
            model.to_str().unwrap(),
        ],
        dir.path(),
    );
    let model = model.to_str().unwrap();

    ok(
        &[
            "grow", "--model", model, "--grid", "16", "--steps", "6", "--every", "2", "--out",
            "grow.gif",
        ],
        dir.path(),
    );
    let frames = gif_frames(&dir.path().join("grow.gif"));
    assert_eq!(frames.len(), 4, "steps 0, 2, 4, 6");
    assert_eq!(frames[0].buffer().dimensions(), (64, 64));

    ok(
        &[
            "grow", "--model", model, "--grid", "16", "--steps", "6", "--scale", "2", "--out",
            "last.png",
        ],
        dir.path(),
    );
    assert_eq!(
        image::open(dir.path().join("last.png")).unwrap().width(),
        32
    );

    let args = [
        "regenerate",
        "--model",
        model,
        "--grid",
        "16",
        "--grow-steps",
        "4",
        "--regrow-steps",
        "4",
        "--every",
        "2",
        "--cut",
        "half",
        "--out",
        "regen.gif",
    ];
    let said = ok(&args, dir.path());
    assert_eq!(gif_frames(&dir.path().join("regen.gif")).len(), 3 + 3);
    assert!(
        said.contains("% of the cut's damage in 4 steps"),
        "regenerate reports the recovery: {said}"
    );

    let info = ok(&["info", model], dir.path());
    assert!(
        info.contains("parameters: 8336") && info.contains("fire rate: 0.5"),
        "{info}"
    );
}

#[test]
fn bench_prints_one_json_line_per_task_on_the_fused_kernel_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        &[
            "bench",
            "--batch",
            "2",
            "--steps",
            "2",
            "--rollout-steps",
            "3",
            "--grid",
            "8",
            "--runs",
            "2",
        ],
        dir.path(),
    );
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tasks: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r["task"].as_str().unwrap(),
                r["batch"].as_u64(),
                r["steps"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        tasks,
        [
            ("train_step", Some(2), Some(2)),
            ("rollout", Some(1), Some(3)),
            ("rollout", Some(2), Some(3))
        ]
    );
    for record in &records {
        assert_eq!(
            (
                record["impl"].as_str(),
                record["backend"].as_str(),
                record["model"].as_str(),
                record["runs"].as_u64()
            ),
            (Some("nca"), Some("fused"), Some("gecko"), Some(2))
        );
        assert!(
            record["seconds_min"].as_f64().unwrap() <= record["seconds_median"].as_f64().unwrap()
        );
    }
}

#[test]
fn bad_targets_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").display().to_string();
    let err = fails(
        &["train", "--image", "missing.png", "--out", &out],
        dir.path(),
    );
    assert!(err.starts_with("error: missing.png: "), "{err}");

    std::fs::write(
        dir.path().join("corrupt.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    let err = fails(
        &["train", "--image", "corrupt.png", "--out", &out],
        dir.path(),
    );
    assert!(err.contains("corrupt.png is not a readable image"), "{err}");

    let err = fails(&["train", "--emoji", "lizard", "--out", &out], dir.path());
    assert!(err.contains("\"lizard\" is not an emoji"), "{err}");

    let err = fails(&["train", "--emoji", "🐙", "--out", &out], dir.path());
    assert!(
        err.contains("could not fetch http://127.0.0.1:9/emoji_u1f419.png"),
        "{err}"
    );
}

#[test]
fn bad_flag_values_and_configs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&["train", "--fire-rate", "2", "--out", "x"], dir.path());
    assert!(err.contains("`fire_rate` is 2"), "{err}");
    let err = fails(&["train", "--batch-size", "eight"], dir.path());
    assert!(
        err.contains("invalid value 'eight' for '--batch-size"),
        "{err}"
    );
    let err = fails(&["train", "--experiment", "regrowing"], dir.path());
    assert!(err.contains("invalid value 'regrowing'"), "{err}");
    let err = fails(&["train", "--config", "nope.toml"], dir.path());
    assert!(err.contains("cannot read config nope.toml"), "{err}");
    std::fs::write(dir.path().join("bad.toml"), "iterations = \"many\"").unwrap();
    let err = fails(&["train", "--config", "bad.toml"], dir.path());
    assert!(
        err.contains("config bad.toml") && err.contains("invalid type"),
        "{err}"
    );
    let err = fails(&["bench", "--backend", "wgpu"], dir.path());
    assert!(
        err.contains("backend wgpu is not compiled into this build")
            && err.contains("--features wgpu"),
        "{err}"
    );
    let err = fails(&["train", "--from", "nothing.nca"], dir.path());
    assert!(
        err.contains("cannot load a model from nothing.nca"),
        "{err}"
    );
    let err = fails(&["train", "--from", "gecko", "--channels", "8"], dir.path());
    assert!(err.contains("'--from <FROM>' cannot be used with"), "{err}");
    let err = fails(&["grow", "--model", "nothing.nca"], dir.path());
    assert!(err.contains("nothing.nca"), "{err}");
}

#[test]
fn nothing_existing_is_overwritten_by_a_failed_command() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), "1");
    let before: Vec<Vec<u8>> = ["model.nca", "checkpoint.nckpt", "metrics.jsonl"]
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();

    let mut again = TINY.to_vec();
    again.extend(["--iterations", "1", "--out", run.to_str().unwrap()]);
    let err = fails(&again, dir.path());
    assert!(
        err.contains("has finished its 1 iteration; pass --resume"),
        "{err}"
    );

    let err = fails(
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--channels",
            "12",
        ],
        dir.path(),
    );
    assert!(
        err.contains("`model.channels` cannot change when resuming"),
        "{err}"
    );

    let after: Vec<Vec<u8>> = ["model.nca", "checkpoint.nckpt", "metrics.jsonl"]
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);

    std::fs::write(dir.path().join("taken.nca"), b"precious").unwrap();
    let err = fails(
        &[
            "import",
            &paper_model("smiley-growing"),
            "--out",
            "taken.nca",
        ],
        dir.path(),
    );
    assert!(err.contains("taken.nca exists; pass --force"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("taken.nca")).unwrap(),
        b"precious"
    );

    let err = fails(
        &[
            "grow",
            "--model",
            run.to_str().unwrap(),
            "--out",
            "/no/such/dir/growth.gif",
        ],
        dir.path(),
    );
    assert!(
        err.contains("cannot write /no/such/dir/growth.gif"),
        "{err}"
    );

    let err = fails(&["info", "taken.nca"], dir.path());
    assert!(err.contains("taken.nca is not an nca model file"), "{err}");
}

#[test]
fn ctrl_c_and_sigterm_write_a_checkpoint_and_exit_130() {
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut args = TINY.to_vec();
        args.extend(["--iterations", "100000", "--out", run.to_str().unwrap()]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_nca"))
            .args(&args)
            .current_dir(dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let metrics = run.join("metrics.jsonl");
        let started = std::time::Instant::now();
        while std::fs::read_to_string(&metrics).map_or(true, |m| m.lines().count() < 2) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "nca train exited early"
            );
            assert!(started.elapsed().as_secs() < 120, "training did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let killed = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(130), "{signal}: {stderr}");
        assert!(
            stderr.contains("interrupted: checkpoint written"),
            "{signal}: {stderr}"
        );
        let info = ok(&["info", run.to_str().unwrap()], dir.path());
        let done: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("iteration: "))
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((2..100000).contains(&done), "{info}");
        assert_eq!(
            std::fs::read_to_string(&metrics).unwrap().lines().count(),
            done
        );
    }
}

#[test]
fn a_run_directory_is_never_shared_or_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    // A directory with something else in it is refused, and what it holds stays.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "mine").unwrap();
    let mut args = TINY.to_vec();
    args.extend(["--iterations", "1", "--out", "other"]);
    let line = fails(&args, dir.path());
    assert!(
        line.contains("other is not empty (it holds keep.txt"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(other.join("keep.txt")).unwrap(),
        "mine"
    );
    assert!(!other.join("model.nca").exists());

    // A run in use by another `nca train` is refused.
    let run = tiny_run(dir.path(), "1");
    let lock = std::fs::File::create(run.join(".lock")).unwrap();
    lock.lock().unwrap();
    let line = fails(
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--iterations",
            "2",
        ],
        dir.path(),
    );
    assert!(line.contains("is in use by another `nca train`"), "{line}");
    drop(lock);

    // Temporary files of a run killed mid-write are cleaned on the next start.
    for stale in [".checkpoint.nckpt.4242.tmp", ".nca-AbC123.tmp"] {
        std::fs::write(run.join(stale), vec![0u8; 1024]).unwrap();
    }
    ok(
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--iterations",
            "2",
        ],
        dir.path(),
    );
    let left: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn unclear_inputs_get_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let expect = |args: &[&str], wanted: &str| {
        let line = fails(args, dir.path());
        assert!(line.contains(wanted), "{args:?}: {line}");
    };
    expect(
        &["train", "--fire-rate", "-0.5", "--out", "x"],
        "`fire_rate` is -0.5",
    );
    expect(
        &["grow", "--angle", "-45", "--model", "geko"],
        "did you mean gecko?",
    );
    expect(&["grow", "--model", "geko"], "gecko-regenerating");
    expect(
        &["grow", "--model", "paper-lizrd-growing"],
        "did you mean paper-lizard-growing?",
    );
    expect(
        &["train", "--quick", "--target-size", "8"],
        "'--target-size <SIZE>'",
    );
    expect(&["train", "--emoji", "🦎🦋", "--out", "x"], "is 2 emoji");
    expect(
        &["train", "--max-norm", "2", "--out", "x"],
        "--max-norm applies only with --gradient global-clip",
    );
    let demo = paper_model("smiley-growing");
    expect(&["import", &demo, "--out", "."], "must end in .nca");
    expect(
        &["import", &demo, "--out", "x.json"],
        "x.json: the output must end in .nca",
    );
    expect(
        &["import", &demo, "--out", "x.png"],
        "x.png: the output must end in .nca",
    );
    expect(&["import", "missing.json"], "missing.json is not a file");
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/gecko.nca");
    expect(&["import", shipped.to_str().unwrap()], "binary");
    image::RgbaImage::new(8, 8)
        .save(dir.path().join("clear.png"))
        .unwrap();
    expect(
        &["train", "--image", "clear.png", "--out", "x"],
        "fully transparent",
    );
    std::fs::write(
        dir.path().join("bad.toml"),
        "seed = 1\niterations = \"many\"",
    )
    .unwrap();
    expect(&["train", "--config", "bad.toml"], "line 2, column 14");
    // A long but valid output name works (temporary files have short names of their own).
    let long = format!("{}.gif", "g".repeat(250));
    ok(
        &["grow", "--grid", "8", "--steps", "2", "--out", &long],
        dir.path(),
    );
    assert!(dir.path().join(&long).is_file());
}

#[test]
fn the_shipped_gecko_grows_without_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let targets = ok(&["targets"], dir.path());
    assert!(
        targets.contains("shipped models (give the name to --model): gecko"),
        "{targets}"
    );
    assert!(targets.contains(", goals (goals 🦎 🦋 😀)"), "{targets}");
    let info = ok(&["info", "gecko"], dir.path());
    assert!(info.contains("parameters: 8336"), "{info}");
    ok(
        &[
            "grow",
            "--grid",
            "16",
            "--steps",
            "4",
            "--every",
            "2",
            "--out",
            "gecko.gif",
        ],
        dir.path(),
    );
    assert_eq!(gif_frames(&dir.path().join("gecko.gif")).len(), 3);
}

#[test]
fn eval_scores_models_side_by_side_with_json_and_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let demo = paper_model("smiley-growing");
    let table = ok(
        &[
            "eval",
            "--model",
            "gecko",
            &demo,
            "--seeds",
            "1",
            "--json",
            "card.json",
            "--sheet",
            "card.png",
        ],
        dir.path(),
    );
    assert!(
        table.starts_with("nca-eval/1: mean ± sd over 1 seed of"),
        "{table}"
    );
    for row in [
        "growth MSE @96",
        "persistence MSE @2000",
        "recovered, left half",
        "rotation 90° MSE @96",
        "target: emoji 🦎 in 24 px, padding 6",
        "target: emoji 😀 in 40 px, padding 16",
        "overflows",
    ] {
        assert!(table.contains(row), "{row:?} missing:\n{table}");
    }
    // The JSON names the protocol and round-trips through the library's types.
    let text = std::fs::read_to_string(dir.path().join("card.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["protocol"], "nca-eval/1");
    assert_eq!(value["models"][0]["model"], "gecko");
    assert_eq!(
        value["models"][0]["scorecard"]["grid"],
        serde_json::json!([36, 36])
    );
    let report: nca_train::eval::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), value);
    // The sheet: one block per model under its title, 3 rows of 8 captioned frames at 2 pixels a
    // cell, one under the other.
    let sheet = image::open(dir.path().join("card.png")).unwrap();
    let caption = nca_data::CAPTION_HEIGHT;
    let block = |cells: u32| {
        (
            8 * (2 * cells + 1) + 1,
            caption + 3 * (2 * cells + caption + 1) + 1,
        )
    };
    assert_eq!(sheet.width(), block(72).0);
    assert_eq!(sheet.height(), block(36).1 + 8 + block(72).1 + 8);
}

#[test]
fn eval_refuses_bad_arguments_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = fails(&["eval", "--model", "geko"], dir.path());
    assert!(unknown.contains("geko"), "{unknown}");
    let zero = fails(&["eval", "--model", "gecko", "--seeds", "0"], dir.path());
    assert!(zero.contains("--seeds"), "{zero}");
    let tiny = fails(
        &[
            "eval",
            "--model",
            "gecko",
            "--emoji",
            "🦎",
            "--target-size",
            "1",
            "--padding",
            "0",
        ],
        dir.path(),
    );
    assert!(tiny.contains("grid"), "{tiny}");
    let missing = fails(&["eval"], dir.path());
    assert!(missing.contains("--model"), "{missing}");
    let nowhere = fails(
        &[
            "eval",
            "--model",
            "gecko",
            "--json",
            "no/such/dir/card.json",
        ],
        dir.path(),
    );
    assert!(nowhere.contains("no/such/dir"), "{nowhere}");
}

#[test]
fn os_errors_are_said_once() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["grow", "--model", "missing.nca"][..],
        &["info", "missing.nca"],
        &["train", "--image", "missing.png", "--iterations", "1"],
    ] {
        let line = fails(args, dir.path());
        assert_eq!(line.matches("(os error 2)").count(), 1, "{args:?}: {line}");
        assert_eq!(line.matches("missing.").count(), 1, "{args:?}: {line}");
    }
}

#[test]
fn closed_pipes_and_full_disks_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let nca_at = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nca"));
        command.current_dir(dir.path());
        command
    };
    // A closed pipe (`nca targets | head -0`) ends the program quietly, as Unix tools do.
    for args in [&["targets"][..], &["info", "gecko"]] {
        // A pipe whose reading end is closed before the program starts: its first line fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = nca_at()
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    // Results that cannot be written are one clear error.
    let output = nca_at().arg("targets").stdout(full()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    // Messages that cannot be written never end the work.
    let grow = nca_at()
        .args(["grow", "--grid", "8", "--steps", "2", "--out", "g.gif"])
        .stderr(full())
        .output()
        .unwrap();
    assert!(grow.status.success());
    assert!(dir.path().join("g.gif").is_file());
    let mut train = TINY.to_vec();
    train.extend(["--iterations", "2", "--out", "run"]);
    let trained = nca_at().args(&train).stderr(full()).output().unwrap();
    assert!(trained.status.success());
    assert!(dir.path().join("run/model.nca").is_file());
}

#[test]
fn pictures_are_written_only_in_the_format_their_name_says() {
    let dir = tempfile::tempdir().unwrap();
    for (command, name) in [
        ("grow", "x.bmp"),
        ("grow", "x.jpg"),
        ("grow", "x"),
        ("regenerate", "x.bmp"),
    ] {
        let line = fails(&[command, "--grid", "8", "--out", name], dir.path());
        assert!(
            line.contains(name) && line.contains("must end in .gif"),
            "{command} {name}: {line}"
        );
        assert!(!dir.path().join(name).exists(), "{command} wrote {name}");
    }
    let line = fails(
        &["eval", "--model", "gecko", "--sheet", "sheet.gif"],
        dir.path(),
    );
    assert!(line.contains("must end in .png"), "{line}");
    // Frames too large to make are refused before any work.
    let line = fails(&["grow", "--grid", "1024", "--scale", "32"], dir.path());
    assert!(
        line.contains("32768x32768 pixels, over the limit"),
        "{line}"
    );
    // Upper-case extensions are the same formats.
    ok(
        &["grow", "--grid", "8", "--steps", "2", "--out", "LAST.PNG"],
        dir.path(),
    );
    assert!(image::open(dir.path().join("LAST.PNG")).is_ok());
}

#[test]
fn runs_that_cannot_fit_in_memory_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // As on a machine with 1 GiB available, whatever this one has: sizes no machine has, and
    // a pool of 5000 72x72 states (1.5 GiB) that only this limit refuses.
    for (flags, named) in [
        (&["--hidden-units", "100000000"][..], "--hidden-units"),
        (
            &["--experiment", "growing", "--batch-size", "100000000"],
            "--batch-size",
        ),
        (&["--pool-size", "100000000"], "--pool-size"),
        (&["--pool-size", "5000"], "--pool-size"),
        (&["--max-steps", "100000000"], "--max-steps"),
        (
            &[
                "--target-size",
                "1024",
                "--padding",
                "1024",
                "--experiment",
                "persistent",
            ],
            "--padding",
        ),
    ] {
        let mut args = vec!["train", "--out", "big", "--iterations", "1"];
        args.extend(flags);
        let output = Command::new(env!("CARGO_BIN_EXE_nca"))
            .args(&args)
            .current_dir(dir.path())
            .env("NCA_MEMORY_AVAILABLE", (1u64 << 30).to_string())
            .output()
            .unwrap();
        let line = String::from_utf8(output.stderr).unwrap();
        assert!(
            !output.status.success() && line.contains("GiB of memory") && line.contains(named),
            "{flags:?}: {line}"
        );
        assert!(
            !dir.path().join("big").exists(),
            "{flags:?} created its directory"
        );
    }
}

/// The largest resident memory of a running process, polled until it exits, in bytes.
/// The resident memory of process `pid` in bytes (Linux's VmRSS); 0 when it cannot be read.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
    let kib = status.ok().and_then(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    kib.unwrap_or(0) * 1024
}

fn peak_memory(child: &mut std::process::Child) -> u64 {
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(resident_bytes(child.id()));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    peak
}

#[test]
fn a_long_growth_is_streamed_in_bounded_memory() {
    // 20,000 frames: kept whole they take over 300 MB; streamed, a few MB.
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args([
            "grow", "--grid", "16", "--scale", "1", "--steps", "40000", "--out", "long.gif",
        ])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let peak = peak_memory(&mut child);
    assert!(child.wait().unwrap().success());
    assert!(peak < 100 << 20, "peak resident memory {} MB", peak >> 20);
    assert!(
        std::fs::metadata(dir.path().join("long.gif"))
            .unwrap()
            .len()
            > 1 << 20
    );
}

#[test]
fn ctrl_c_right_after_the_start_still_stops_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    // The paper's settings: preparing the target, the model and the pool takes a moment.
    let args = ["train", "--iterations", "100000", "--out", "run"];
    let child = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(args)
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt as soon as the run directory appears: before the model and the pool exist.
    let started = std::time::Instant::now();
    while !dir.path().join("run/config.toml").exists() {
        assert!(started.elapsed().as_secs() < 60, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        dir.path().join("run/checkpoint.nckpt").is_file(),
        "{stderr}"
    );
}

/// The models JSON embedded in an exported page.
fn page_models(page: &str) -> serde_json::Value {
    let start = page
        .find("<script id=\"nca-models\" type=\"application/json\">")
        .unwrap();
    let json = &page[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    serde_json::from_str(json).unwrap()
}

#[test]
fn export_writes_the_demo_format_and_a_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "export",
        "--model",
        "gecko-regenerating",
        "--format",
        "distill",
        "--out",
        "m.json",
    ];
    ok(&args, dir.path());
    ok(&["import", "m.json", "--out", "m.nca"], dir.path());
    assert!(ok(&["info", "m.nca"], dir.path()).contains("parameters: 8336"));
    assert!(fails(&args, dir.path()).contains("m.json exists; pass --force"));

    ok(
        &[
            "export",
            "--model",
            "gecko",
            "gecko-regenerating",
            "--format",
            "html",
            "--out",
            "demo.html",
        ],
        dir.path(),
    );
    let page = std::fs::read_to_string(dir.path().join("demo.html")).unwrap();
    assert!(!page.contains("__NCA_") && page.contains("id=\"fire-rate\""));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "no network"
    );
    let models = page_models(&page);
    assert_eq!(models["grid"], 72);
    assert_eq!(models["models"][1]["name"], "gecko-regenerating");
    assert_eq!(
        models["models"][1]["w1"].as_array().unwrap().len(),
        48 * 128
    );

    let two = [
        "export",
        "--model",
        "gecko",
        "gecko-growing",
        "--format",
        "distill",
        "--out",
        "x.json",
    ];
    assert!(fails(&two, dir.path()).contains("holds one model"));
    let wrong = [
        "export", "--model", "gecko", "--format", "html", "--out", "x.json",
    ];
    assert!(fails(&wrong, dir.path()).contains("must end in .html"));
}

/// Runs a command that must fail within `seconds`, with `env` set: its one-line error message
/// and its largest resident memory in bytes (Linux; 0 elsewhere).
fn fails_quickly(args: &[&str], env: &[(&str, &str)], cwd: &Path, seconds: u64) -> (String, u64) {
    let mut child = support::command(cwd)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() >= seconds {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("nca {args:?} still ran after {seconds} s");
        }
        peak = peak.max(resident_bytes(child.id()));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    // An abort (allocation failure) exits 134 or by a signal; nca's errors exit 1 or 2.
    assert!(
        matches!(output.status.code(), Some(1 | 2)),
        "nca {args:?} should fail with an error, not {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    (error_line(args, &output), peak)
}

#[test]
fn bench_refuses_sizes_it_cannot_run_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let one_gib = (1u64 << 30).to_string();
    let cases: [(&[&str], &str); 8] = [
        (&["--grid", "4294967296"], "--grid"),
        (&["--grid", "2"], "--grid"),
        (&["--runs", "2147483647"], "--runs"),
        (&["--runs", "0"], "--runs"),
        (&["--steps", "2147483647"], "--steps"),
        (
            &["--rollout-steps", "2147483647", "--task", "rollout"],
            "--rollout-steps",
        ),
        (
            &["--batch-size", "2147483647", "--task", "rollout"],
            "--batch-size",
        ),
        (
            &["--batch-size", "5000", "--task", "train-step"],
            "--batch-size",
        ),
    ];
    for (flags, named) in cases {
        let mut args = vec!["bench"];
        args.extend(flags);
        let env = [("NCA_MEMORY_AVAILABLE", one_gib.as_str())];
        let (line, _) = fails_quickly(&args, &env, dir.path(), 60);
        assert!(line.contains(named), "{flags:?}: {line}");
    }
}

#[test]
fn eval_refuses_runs_that_cannot_fit_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let one_gib = (1u64 << 30).to_string();
    let args = [
        "eval",
        "--model",
        "gecko",
        "--emoji",
        "🦎",
        "--target-size",
        "1024",
        "--padding",
        "1024",
        "--seeds",
        "2",
    ];
    let env = [("NCA_MEMORY_AVAILABLE", one_gib.as_str())];
    let (line, _) = fails_quickly(&args, &env, dir.path(), 60);
    assert!(
        line.contains("GiB of memory") && line.contains("--seeds") && line.contains("--padding"),
        "{line}"
    );
}

#[cfg(unix)]
#[test]
fn loaders_read_no_more_than_a_valid_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = |name: &str, start: &[u8], len: u64| {
        let path = dir.path().join(name);
        std::fs::write(&path, start).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len)
            .unwrap();
    };
    // A checksummed container's start: magic, version 2, a 16-byte header, a 16-byte payload.
    let start = |magic: &[u8]| {
        let mut bytes = magic.to_vec();
        bytes.extend(2u32.to_le_bytes());
        bytes.extend(16u32.to_le_bytes());
        bytes.extend(16u64.to_le_bytes());
        bytes
    };
    sparse("big.nca", &start(b"NCAMODEL"), 3 << 30);
    sparse("big.nckpt", &start(b"NCACKPT\0"), 3 << 30);
    sparse("big.json", b"[", 1 << 30);
    std::fs::create_dir(dir.path().join("run")).unwrap();
    std::fs::write(
        dir.path().join("run/checkpoint.nckpt"),
        [start(b"NCACKPT\0"), vec![0; 1 << 20]].concat(),
    )
    .unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["info", "/dev/zero"], "not an nca model file"),
        (
            &["train", "--config", "/dev/zero", "--out", "a"],
            "larger than any training config",
        ),
        (
            &["train", "--from", "/dev/zero", "--out", "b"],
            "not an nca model file",
        ),
        (&["info", "big.nca"], "larger than any nca model file"),
        (
            &["grow", "--model", "big.nca", "--out", "d.gif"],
            "larger than any nca model file",
        ),
        (&["info", "big.nckpt"], "unexpected bytes after the end"),
        (&["info", "run"], "unexpected bytes after the end"),
        (
            &["import", "big.json", "--out", "e.nca"],
            "larger than any web-demo model",
        ),
        (
            &["grow", "--model", "big.json", "--out", "f.gif"],
            "larger than any web-demo model",
        ),
    ];
    for (args, expected) in cases {
        let (line, peak) = fails_quickly(args, &[], dir.path(), 20);
        assert!(line.contains(expected), "{args:?}: {line}");
        assert!(peak < 400 << 20, "{args:?} took {} MB", peak >> 20);
    }
}

#[test]
fn gif_delays_out_of_what_a_gif_holds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for delay in ["0", "9", "655351", "4294967295"] {
        let args = ["grow", "--delay", delay, "--out", "x.gif"];
        assert!(fails(&args, dir.path()).contains("--delay"), "{delay}");
    }
    let args = [
        "grow", "--steps", "2", "--delay", "655350", "--out", "slow.gif",
    ];
    ok(&args, dir.path());
    let frames = gif_frames(&dir.path().join("slow.gif"));
    assert_eq!(frames[0].delay().numer_denom_ms(), (655_350, 1));
}

#[test]
fn commands_take_at_most_64_models() {
    let dir = tempfile::tempdir().unwrap();
    let many = vec!["gecko"; 65];
    let commands: [&[&str]; 3] = [
        &[
            "export",
            "--format",
            "html",
            "--out",
            "many.html",
            "--model",
        ],
        &["eval", "--seeds", "1", "--model"],
        &["serve", "--port", "0", "--model"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        if command[0] == "serve" {
            // serve takes one model per --model.
            args.pop();
            for model in &many {
                args.extend(["--model", model]);
            }
        } else {
            args.extend(&many);
        }
        let (line, _) = fails_quickly(&args, &[], dir.path(), 60);
        assert!(line.contains("65 models") && line.contains("64"), "{line}");
    }
    assert!(!dir.path().join("many.html").exists());
    let mut args = vec!["export", "--format", "html", "--out", "64.html", "--model"];
    args.extend(vec!["gecko"; 64]);
    ok(&args, dir.path());
}

#[test]
fn web_demo_models_with_a_byte_order_mark_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read_to_string(paper_model("lizard-growing")).unwrap();
    std::fs::write(dir.path().join("bom.json"), format!("\u{feff}{json}")).unwrap();
    ok(&["import", "bom.json", "--out", "bom.nca"], dir.path());
    assert!(dir.path().join("bom.nca").is_file());
}

#[cfg(unix)]
#[test]
fn temporaries_of_killed_writers_are_removed_by_later_writes() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let temporaries = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with(".nca-") && name.ends_with(".tmp"))
            .collect();
        names.sort();
        names
    };
    // A long GIF being written, killed as `kill -9` would.
    let mut child = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args([
            "grow", "--scale", "1", "--steps", "400000", "--out", "long.gif",
        ])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while temporaries().is_empty() {
        assert!(
            started.elapsed().as_secs() < 60,
            "grow never started writing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = temporaries();
    assert_eq!(killed.len(), 1);
    // A live writer's file (this test holds its lock), a fresh one and files of other names:
    // none may go.
    let live = std::fs::File::create(dir.path().join(".nca-live00.tmp")).unwrap();
    live.lock().unwrap();
    std::fs::write(dir.path().join(".nca-fresh0.tmp"), b"").unwrap();
    std::fs::write(dir.path().join(".nca-other.tmp"), b"").unwrap();
    std::fs::write(dir.path().join("notes.tmp"), b"").unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for name in [&killed[0], ".nca-live00.tmp", ".nca-other.tmp", "notes.tmp"] {
        let file = std::fs::File::options()
            .write(true)
            .open(dir.path().join(name))
            .unwrap();
        file.set_modified(hour_ago).unwrap();
    }
    ok(
        &[
            "export",
            "--model",
            "gecko",
            "--format",
            "distill",
            "--out",
            "gecko.json",
        ],
        dir.path(),
    );
    assert_eq!(
        temporaries(),
        [".nca-fresh0.tmp", ".nca-live00.tmp", ".nca-other.tmp"]
    );
    assert!(dir.path().join("notes.tmp").exists());
    drop(live);
}

#[test]
fn a_runs_config_holds_its_target_and_trains_the_same_run_again() {
    let dir = tempfile::tempdir().unwrap();
    // TINY's settings on a butterfly: a config that forgot the target would train the gecko.
    let first = dir.path().join("first");
    let mut args: Vec<&str> = TINY
        .iter()
        .map(|&arg| if arg == "🦎" { "🦋" } else { arg })
        .collect();
    args.extend(["--iterations", "1", "--out", first.to_str().unwrap()]);
    ok(&args, dir.path());
    let config = std::fs::read_to_string(first.join("config.toml")).unwrap();
    assert!(config.contains("[target]"), "{config}");
    assert!(config.contains("emoji = \"🦋\""), "{config}");
    assert!(
        config.contains("size = 8") && config.contains("padding = 2"),
        "{config}"
    );
    // Reused with --config alone: the same target, the same grid, the same first loss.
    let second = dir.path().join("second");
    ok(
        &[
            "train",
            "--config",
            first.join("config.toml").to_str().unwrap(),
            "--out",
            second.to_str().unwrap(),
        ],
        dir.path(),
    );
    let again = std::fs::read_to_string(second.join("config.toml")).unwrap();
    assert_eq!(again, config);
    let metrics = |run: &Path| {
        let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        line["loss"].as_f64().unwrap()
    };
    assert_eq!(metrics(&first), metrics(&second));
}

#[test]
fn outputs_are_never_replaced_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("holiday.png"), b"a photo").unwrap();
    std::fs::write(dir.path().join("notes.json"), b"{}").unwrap();
    for args in [
        &[
            "grow",
            "--model",
            "gecko",
            "--steps",
            "2",
            "--out",
            "holiday.png",
        ][..],
        &["regenerate", "--model", "gecko", "--out", "holiday.png"],
        &[
            "eval",
            "--model",
            "gecko",
            "--seeds",
            "1",
            "--json",
            "notes.json",
        ],
        &[
            "eval",
            "--model",
            "gecko",
            "--seeds",
            "1",
            "--sheet",
            "holiday.png",
        ],
    ] {
        let line = fails(args, dir.path());
        assert!(line.contains("exists; pass --force"), "{args:?}: {line}");
    }
    assert_eq!(
        std::fs::read(dir.path().join("holiday.png")).unwrap(),
        b"a photo"
    );
    assert_eq!(std::fs::read(dir.path().join("notes.json")).unwrap(), b"{}");
    ok(
        &[
            "grow",
            "--model",
            "gecko",
            "--steps",
            "2",
            "--out",
            "holiday.png",
            "--force",
        ],
        dir.path(),
    );
    assert!(image::open(dir.path().join("holiday.png")).is_ok());
}

#[test]
fn a_file_given_as_the_run_directory_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gecko.html"), b"<html>").unwrap();
    let mut args = TINY.to_vec();
    args.extend(["--iterations", "1", "--out", "gecko.html"]);
    let line = fails(&args, dir.path());
    assert!(
        line.contains("gecko.html is a file, not a run directory")
            && line.contains("choose a new or empty directory with --out"),
        "{line}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("gecko.html")).unwrap(),
        b"<html>"
    );
}

/// The lines of `metrics.jsonl` in `run`: one per iteration trained.
fn metrics_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count()
}

#[test]
fn a_finished_run_says_how_to_train_it_further() {
    let dir = tempfile::tempdir().unwrap();
    // The quick start run twice: the second says how to go on.
    let quick = [
        "train",
        "--quick",
        "--iterations",
        "1",
        "--checkpoint-every",
        "1",
    ];
    ok(&quick, dir.path());
    let line = fails(&quick, dir.path());
    assert!(
        line.contains(
            "runs/regenerating has finished its 1 iteration; pass --resume runs/regenerating \
             --iterations N (N > 1) to train on"
        ),
        "{line}"
    );

    let run = tiny_run(dir.path(), "2");
    let shown = run.to_str().unwrap();
    let mut again = TINY.to_vec();
    again.extend(["--iterations", "2", "--out", shown]);
    let line = fails(&again, dir.path());
    assert!(
        line.contains(&format!(
            "{shown} has finished its 2 iterations; pass --resume {shown} --iterations N (N > 2) \
             to train on, or choose another --out"
        )),
        "{line}"
    );
    // Resumed as it is, or to fewer iterations, it says so instead of training nothing.
    let line = fails(&["train", "--resume", shown], dir.path());
    assert!(
        line.contains(&format!(
            "{shown} has finished its 2 iterations; pass --iterations N (N > 2) to train on"
        )),
        "{line}"
    );
    let line = fails(
        &["train", "--resume", shown, "--iterations", "1"],
        dir.path(),
    );
    assert!(
        line.contains("has done 2 iterations, more than --iterations 1"),
        "{line}"
    );
    assert_eq!(metrics_lines(&run), 2);
    ok(
        &["train", "--resume", shown, "--iterations", "3"],
        dir.path(),
    );
    assert_eq!(metrics_lines(&run), 3);
}

#[test]
fn the_lock_lives_as_long_as_the_run_and_others_are_told_it_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), "1");
    assert!(!run.join(".lock").exists(), "a finished run leaves no lock");

    // While a run trains, a resume or a new run there is told that the directory is in use.
    let live = dir.path().join("live");
    let mut args = TINY.to_vec();
    args.extend(["--iterations", "100000", "--out", live.to_str().unwrap()]);
    let mut running = support::Running(
        support::command(dir.path())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut running.0;
    let started = std::time::Instant::now();
    while !live.join("checkpoint.nckpt").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "nca train exited early"
        );
        assert!(started.elapsed().as_secs() < 120, "training did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let resume = ["train", "--resume", "live", "--iterations", "5"];
    let mut new = TINY.to_vec();
    new.extend(["--iterations", "1", "--out", "live"]);
    for args in [&resume[..], &new] {
        let line = fails(args, dir.path());
        assert!(
            line.contains("live is in use by another `nca train`"),
            "{args:?}: {line}"
        );
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(
        !live.join(".lock").exists(),
        "an interrupted run leaves no lock"
    );

    // Two starts racing for a new directory: the one without the lock is told that the directory
    // is in use, not what the other is writing there (a temporary file, here).
    let racing = dir.path().join("racing");
    std::fs::create_dir(&racing).unwrap();
    let lock = std::fs::File::create(racing.join(".lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(racing.join(".nca-AbC123.tmp"), b"config").unwrap();
    let mut args = TINY.to_vec();
    args.extend(["--iterations", "1", "--out", "racing"]);
    let line = fails(&args, dir.path());
    assert!(
        line.contains("racing is in use by another `nca train`"),
        "{line}"
    );
    drop(lock);

    // And as it happens: one of two starts trains, the other is told the directory is taken.
    for attempt in 0..3 {
        let out = format!("race{attempt}");
        let mut args = TINY.to_vec();
        args.extend(["--iterations", "3", "--out", &out]);
        let spawn = || {
            support::command(dir.path())
                .args(&args)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(), spawn());
        let outputs = [
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        ];
        let won = outputs.iter().filter(|o| o.status.success()).count();
        assert!(won >= 1, "neither run started");
        for output in outputs.iter().filter(|o| !o.status.success()) {
            let line = error_line(&args, output);
            assert!(
                line.contains("is in use by another `nca train`")
                    || line.contains("has finished its 3 iterations"),
                "{line}"
            );
        }
        assert!(!dir.path().join(&out).join(".lock").exists());
    }
}

#[test]
fn bare_nca_and_help_describe_the_same_commands() {
    let dir = tempfile::tempdir().unwrap();
    let bare = nca(&[], dir.path());
    assert!(!bare.status.success());
    let bare = String::from_utf8(bare.stderr).unwrap();
    let help = ok(&["--help"], dir.path());
    let commands = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .take_while(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert!(commands(&help).len() > 10, "{help}");
    assert_eq!(commands(&bare), commands(&help));
    assert_eq!(bare.lines().next(), help.lines().next());
    let grow = commands(&help)
        .into_iter()
        .find(|line| line.trim_start().starts_with("grow "))
        .unwrap();
    assert!(grow.contains(".npy") && grow.contains("GIF"), "{grow}");
}

#[test]
fn bench_takes_its_old_batch_flag_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "bench",
        "--task",
        "rollout",
        "--grid",
        "8",
        "--rollout-steps",
        "1",
        "--runs",
        "1",
        "--batch",
        "2",
    ];
    let output = nca(&args, dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: bench's --batch is now --batch-size"),
        "{stderr}"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\"batch\":2"), "{stdout}");
    args.extend(["--batch-size", "3"]);
    let line = fails(&args, dir.path());
    assert!(line.contains("cannot be used with"), "{line}");
}

#[test]
fn echoed_inputs_are_cut_and_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // A long value in a config is echoed by its first 80 characters.
    let long = "a".repeat(500_000);
    std::fs::write(
        dir.path().join("big.toml"),
        format!("iterations = \"{long}\"\n"),
    )
    .unwrap();
    let line = fails(&["train", "--config", "big.toml"], dir.path());
    assert!(
        line.len() < 300
            && line.contains(&format!("\"{}…\"", "a".repeat(80)))
            && line.contains("expected usize"),
        "{}",
        &line[..line.len().min(400)]
    );
    // A name with a line break or an escape sequence stays on its line and never reaches the
    // terminal raw, in errors and in results.
    for name in ["two\nlines.nca", "clear\x1b[2J.nca"] {
        let line = fails(&["grow", "--model", name], dir.path());
        assert!(!line.contains('\x1b'), "{line:?}");
        assert!(line.contains(&name.escape_debug().to_string()), "{line:?}");
        std::fs::write(dir.path().join(name), b"not a model").unwrap();
        let line = fails(&["info", name], dir.path());
        assert!(
            line.contains(&format!("{} is not an nca model file", name.escape_debug())),
            "{line:?}"
        );
    }
    let gecko = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/gecko.nca");
    std::fs::copy(gecko, dir.path().join("g\x1b[2J\n.nca")).unwrap();
    let said = ok(&["info", "g\x1b[2J\n.nca"], dir.path());
    assert!(said.starts_with("model g\\u{1b}[2J\\n.nca\n"), "{said:?}");
}

#[test]
fn a_gradient_table_takes_the_papers_values_for_what_it_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let train = |name: &str, table: &str| {
        std::fs::write(dir.path().join(format!("{name}.toml")), table).unwrap();
        let config = format!("{name}.toml");
        let mut args = TINY.to_vec();
        args.extend(["--config", &config, "--iterations", "1", "--out", name]);
        let output = nca(&args, dir.path());
        output
            .status
            .success()
            .then(|| std::fs::read_to_string(dir.path().join(name).join("config.toml")).unwrap())
    };
    let saved = train("paper", "[gradient]\n").expect("[gradient] alone trains");
    assert!(
        saved.contains("[gradient]\nmode = \"per_parameter_norm\""),
        "{saved}"
    );
    let saved = train("clip", "[gradient]\nmode = \"global_clip\"\n").unwrap();
    assert!(saved.contains("max_norm = 1.0"), "{saved}");
    std::fs::write(dir.path().join("norm.toml"), "[gradient]\nmax_norm = 2\n").unwrap();
    let line = fails(&["train", "--config", "norm.toml"], dir.path());
    assert!(
        line.contains("max_norm applies only with mode = \"global_clip\""),
        "{line}"
    );
}

#[test]
fn a_runs_checkpoint_and_config_toml_never_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), "2");
    let shown = run.to_str().unwrap();
    // A resume that trains longer says so in config.toml too.
    ok(
        &[
            "train",
            "--resume",
            shown,
            "--iterations",
            "3",
            "--checkpoint-every",
            "2",
        ],
        dir.path(),
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("iterations = 3") && config.contains("checkpoint_every = 2"),
        "{config}"
    );
    // Another run's checkpoint (8 channels) in this run (16) is refused, naming both files.
    let mut other = TINY.to_vec();
    other.extend(["--channels", "8", "--iterations", "1", "--out", "other"]);
    ok(&other, dir.path());
    std::fs::copy(
        dir.path().join("other/checkpoint.nckpt"),
        run.join("checkpoint.nckpt"),
    )
    .unwrap();
    let line = fails(
        &["train", "--resume", shown, "--iterations", "5"],
        dir.path(),
    );
    assert!(
        line.contains(&format!(
            "{}: not this run's checkpoint: `model.channels` is 8 in it and 16 in {}",
            run.join("checkpoint.nckpt").display(),
            run.join("config.toml").display()
        )),
        "{line}"
    );
    assert!(!run.join(".lock").exists());
}
