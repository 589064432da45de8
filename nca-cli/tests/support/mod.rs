//! What the browser tests share: whether Chromium and playwright are here, and the rule that a
//! missing browser is a visible skip, or a failure when `NCA_REQUIRE_BROWSER` is set (CI).

use std::io::Write;
use std::path::{Path, PathBuf};

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
