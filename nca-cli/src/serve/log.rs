//! The server's log: lines to standard error, rate-limited so a flood of bad connections cannot
//! flood it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use nca_cli::note;

/// Log lines per second, at most; the rest are counted and the count logged.
const LOG_LINES_PER_SECOND: u32 = 10;

/// Log lines to standard error, at most [`LOG_LINES_PER_SECOND`] a second.
#[derive(Default)]
pub struct RateLimitedLog(Mutex<LogWindow>);

/// The current second of the log.
#[derive(Default)]
struct LogWindow {
    started: Option<Instant>,
    written: u32,
    suppressed: u64,
}

impl RateLimitedLog {
    /// Writes `line`, unless this second's lines are spent.
    pub fn line(&self, line: std::fmt::Arguments<'_>) {
        let mut window = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if window
            .started
            .is_none_or(|started| now.duration_since(started) >= Duration::from_secs(1))
        {
            if window.suppressed > 0 {
                note!("({} similar log lines suppressed)", window.suppressed);
            }
            *window = LogWindow {
                started: Some(now),
                written: 0,
                suppressed: 0,
            };
        }
        if window.written < LOG_LINES_PER_SECOND {
            window.written += 1;
            note!("{line}");
        } else {
            window.suppressed += 1;
        }
    }
}
