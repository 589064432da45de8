//! Run directories: a new run only where nothing would be lost, one run at a time, leftovers of a
//! killed run cleaned, and a resumed run that stays the same run.

use burn::tensor::{Device, Tensor};
use nca_train::{
    CHECKPOINT_FILE, CONFIG_FILE, Experiment, MODEL_FILE, RunDir, TrainConfig, TrainError, Trainer,
};

fn small() -> TrainConfig {
    TrainConfig {
        pool_size: 8,
        damaged_per_batch: 1,
        batch_size: 4,
        min_steps: 4,
        max_steps: 6,
        iterations: 2,
        ..TrainConfig::preset(Experiment::Regenerating)
    }
}

/// A finished two-iteration run in `dir`.
fn finished_run(dir: &std::path::Path) {
    let device = Device::flex();
    let target = Tensor::<3>::ones([4, 12, 12], &device);
    let run = RunDir::create(dir, &small()).unwrap();
    let mut trainer = Trainer::new(small(), target, &device).unwrap();
    trainer.run(Some(&run), &mut ()).unwrap();
}

#[test]
fn a_new_run_goes_only_where_nothing_would_be_lost() {
    let root = tempfile::tempdir().unwrap();
    let fresh = root.path().join("fresh");
    let run = RunDir::create(&fresh, &small()).unwrap();
    assert!(run.file(CONFIG_FILE).is_file());
    drop(run);
    // A run that failed to start (config and lock only) may start again.
    RunDir::create(&fresh, &small()).unwrap();

    let other = root.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let err = RunDir::create(&other, &small()).unwrap_err();
    assert!(
        matches!(&err, TrainError::NotEmpty { holds, .. } if holds == "notes.txt"),
        "{err}"
    );

    let done = root.path().join("done");
    finished_run(&done);
    let err = RunDir::check_new(&done).unwrap_err();
    assert!(matches!(err, TrainError::RunExists { .. }), "{err}");
    assert!(!err.to_string().contains("--"), "no CLI flags: {err}");
}

#[test]
fn one_run_at_a_time_and_leftovers_cleaned() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    finished_run(&dir);
    std::fs::write(dir.join(".checkpoint.nckpt.77.tmp"), [0u8; 64]).unwrap();
    let (first, checkpoint) = RunDir::open(&dir).unwrap();
    assert_eq!(checkpoint.iteration, 2);
    assert!(!dir.join(".checkpoint.nckpt.77.tmp").exists());
    let err = RunDir::open(&dir).unwrap_err();
    assert!(err.to_string().contains("in use by another"), "{err}");
    drop(first);
    assert!(RunDir::open(&dir).is_ok());
    assert!(dir.join(CHECKPOINT_FILE).is_file());
}

#[test]
fn a_resumed_run_may_change_only_its_length_and_checkpoint_interval() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    finished_run(&dir);
    let (_run, checkpoint) = RunDir::open(&dir).unwrap();
    let longer = TrainConfig {
        iterations: 10,
        checkpoint_every: 5,
        ..checkpoint.config.clone()
    };
    assert_eq!(
        checkpoint
            .clone()
            .with_config(longer)
            .unwrap()
            .config
            .iterations,
        10
    );
    let mut wider = checkpoint.config.clone();
    wider.model.channels = 12;
    match checkpoint.with_config(wider) {
        Err(TrainError::ResumeChange { field }) => assert_eq!(field, "model.channels"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn only_a_run_directory_is_opened_and_nothing_is_left_in_what_is_not() {
    let root = tempfile::tempdir().unwrap();
    let refusal = |path: &std::path::Path| RunDir::open(path).unwrap_err().to_string();
    let missing = root.path().join("nothere");
    assert!(refusal(&missing).contains("nothere does not exist"));
    assert!(!missing.exists(), "nothing is created");

    let run = root.path().join("run");
    finished_run(&run);
    let model = run.join(MODEL_FILE);
    let err = refusal(&model);
    assert!(err.contains("model.nca is not a run directory"), "{err}");

    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = refusal(&empty);
    assert!(err.contains("empty holds no run to resume"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&empty).unwrap().collect();
    assert!(
        left.is_empty(),
        "no lock is left in a directory that holds no run"
    );
}

#[test]
fn the_lock_goes_with_the_run_dir() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    finished_run(&dir);
    assert!(!dir.join(".lock").exists(), "a finished run leaves no lock");
    let (run, _) = RunDir::open(&dir).unwrap();
    assert!(dir.join(".lock").is_file());
    assert!(
        RunDir::check_new(&dir)
            .unwrap_err()
            .to_string()
            .contains("in use")
    );
    drop(run);
    assert!(!dir.join(".lock").exists());
    let file = root.path().join("file");
    std::fs::write(&file, "mine").unwrap();
    let err = RunDir::create(&file, &small()).unwrap_err().to_string();
    assert!(err.contains("file is a file, not a run directory"), "{err}");
}

#[test]
fn config_toml_says_what_the_checkpoint_says() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    finished_run(&dir);
    let config = || {
        TrainConfig::from_toml(&std::fs::read_to_string(dir.join(CONFIG_FILE)).unwrap()).unwrap()
    };
    // A resume to more iterations rewrites it at once; stopped before its next checkpoint, the
    // run opens again with the checkpoint's length, and config.toml says that again.
    let (run, checkpoint) = RunDir::open(&dir).unwrap();
    let longer = TrainConfig {
        iterations: 10,
        ..checkpoint.config.clone()
    };
    let checkpoint = run.resume(checkpoint, longer).unwrap();
    assert_eq!(checkpoint.config.iterations, 10);
    assert_eq!(config().iterations, 10);
    drop(run);
    let (run, checkpoint) = RunDir::open(&dir).unwrap();
    assert_eq!(checkpoint.config.iterations, 2);
    assert_eq!(config().iterations, 2);
    drop(run);
    // A missing config.toml is written again.
    std::fs::remove_file(dir.join(CONFIG_FILE)).unwrap();
    drop(RunDir::open(&dir).unwrap());
    assert_eq!(config(), small());
    // Another run's config is refused, naming both files and the first difference.
    let wider = TrainConfig {
        batch_size: 5,
        ..small()
    };
    std::fs::write(dir.join(CONFIG_FILE), wider.to_toml()).unwrap();
    let err = RunDir::open(&dir).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "{}: not this run's checkpoint: `batch_size` is 4 in it and 5 in {}",
            dir.join(CHECKPOINT_FILE).display(),
            dir.join(CONFIG_FILE).display()
        )),
        "{err}"
    );
    assert!(!dir.join(".lock").exists());
}
