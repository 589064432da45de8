//! Writing to the terminal without ever panicking: [`say!`](crate::say) for results on standard
//! output, [`note!`](crate::note) for messages on standard error.

use std::fmt;
use std::io::{self, Write};

/// Writes one line of results to standard output. A closed pipe (`nca targets | head -1`) ends
/// the program quietly with status 141, as a Unix tool killed by SIGPIPE; any other failure (a
/// full disk) ends it with one line on standard error and status 1.
pub fn say(line: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    let written = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    if let Err(err) = written {
        if err.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        note(format_args!(
            "error: cannot write to standard output: {err}"
        ));
        std::process::exit(1);
    }
}

/// Writes one line to standard error, ignoring failure: a message must never end the work it
/// reports on (`nca train … 2>/dev/full` trains to the end).
pub fn note(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// `println!` that never panics: see [`out::say`](crate::out::say).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::out::say(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics: see [`out::note`](crate::out::note).
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => { $crate::out::note(format_args!($($arg)*)) };
}
