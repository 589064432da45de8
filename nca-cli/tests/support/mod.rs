//! What the binary's tests share: running `nca` as a user would (offline, in a directory of the
//! test's own), the asserts on its outcome (`ok`, `fails`: one line, no panic), and whether the
//! browser tests can run: Chromium and playwright are here, or a missing browser is a visible
//! skip (a failure when `NCA_REQUIRE_BROWSER` is set, as in CI); [`server`], a running
//! `nca serve` and its WebSocket. Each test crate uses part of it.
#![allow(dead_code)]

pub mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// The `nca` binary, run in `cwd` and offline: nothing may reach the network; the cache of
/// fetched emoji is the test's own.
pub fn command(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nca"));
    command
        .current_dir(cwd)
        .env("NCA_EMOJI_BASE_URL", "http://127.0.0.1:9/")
        .env("NCA_CACHE_DIR", cwd.join("cache"));
    command
}

/// A child process killed when dropped: a failing test leaves nothing running.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `nca args` in `cwd` to its end.
pub fn nca(args: &[&str], cwd: &Path) -> Output {
    command(cwd)
        .args(args)
        .output()
        .expect("the nca binary runs")
}

/// Runs a command that must succeed; returns what it wrote to standard output (its results).
pub fn ok(args: &[&str], cwd: &Path) -> String {
    String::from_utf8(succeeds(args, cwd).stdout).expect("UTF-8 results")
}

/// Runs a command that must succeed; returns what it wrote to standard error (its messages).
pub fn ok_notes(args: &[&str], cwd: &Path) -> String {
    String::from_utf8_lossy(&succeeds(args, cwd).stderr).into_owned()
}

fn succeeds(args: &[&str], cwd: &Path) -> Output {
    let output = nca(args, cwd);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nca {args:?} failed: {stderr}");
    output
}

/// Runs a command that must fail; returns its one-line error message.
pub fn fails(args: &[&str], cwd: &Path) -> String {
    error_line(args, &nca(args, cwd))
}

/// The one-line error message of `nca args`, which must have failed without a panic.
pub fn error_line(args: &[&str], output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "nca {args:?} should fail");
    assert!(
        !stderr.contains("panicked"),
        "nca {args:?} panicked: {stderr}"
    );
    let line = stderr.trim();
    assert_eq!(
        line.lines().count(),
        1,
        "one line expected from nca {args:?}: {stderr}"
    );
    line.to_string()
}

/// The directory of the browser test scripts, or `None` (after one line on the terminal) when
/// Chromium or playwright is missing and skipping is allowed.
///
/// # Panics
/// When they are missing and `NCA_REQUIRE_BROWSER` is set.
pub fn browser_tests(what: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = dir.join("node_modules/playwright-core").is_dir()
        && Path::new("/usr/bin/chromium").exists();
    if ready {
        return Some(dir);
    }
    let why = "needs Debian's chromium and `npm ci` in nca-cli/tests/browser (see .ci/run)";
    assert!(
        std::env::var_os("NCA_REQUIRE_BROWSER").is_none(),
        "the browser test of {what} {why}; NCA_REQUIRE_BROWSER is set, so it may not be skipped"
    );
    // Straight to the terminal, past the test harness's capture, so the skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the browser test of {what}: it {why}; NCA_REQUIRE_BROWSER=1 turns this skip into a failure"
    );
    None
}

/// A `.npy` file: its shape and float32 values.
pub fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"), "not a .npy file");
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.dtype().descr(), "'<f4'", "float32, little-endian");
    assert_eq!(npy.order(), npyz::Order::C);
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().unwrap())
}

/// Runs the browser test `script` (in `browser_dir`, from [`browser_tests`]) with `args`: whether
/// it passed (exit status 0 and a PASS line) and its report, stdout then stderr.
pub fn run_browser_script(browser_dir: &Path, script: &str, args: &[String]) -> (bool, String) {
    let output = Command::new("node")
        .arg(browser_dir.join(script))
        .args(args)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success() && report.contains("PASS"), report)
}
