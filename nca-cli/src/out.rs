//! Writing to the terminal without ever panicking: [`say!`](crate::say) for results on standard
//! output, [`note!`](crate::note) for messages on standard error; and what any input or path
//! becomes when a message shows it ([`escaped`], [`shown`], [`path`], [`cut_echoes`]): control
//! characters escaped, so that a file name can neither split a line nor command the terminal,
//! and long echoed inputs cut.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

/// The most characters of an echoed input a message shows; a longer one is cut there and ends
/// with "…".
pub const ECHO_CHARS: usize = 80;

/// The most characters of one error line: beyond any message nca writes, a guard against inputs
/// echoed without quotes by any layer.
pub const LINE_CHARS: usize = 2000;

/// `text` with its control characters escaped as Rust writes them in strings (`\n`, `\t`,
/// `\u{1b}`); every other character, unicode included, as it is.
pub fn escaped(text: &str) -> Cow<'_, str> {
    escaped_but(text, &[])
}

/// [`escaped`], except for the control characters in `kept`.
fn escaped_but<'a>(text: &'a str, kept: &[char]) -> Cow<'a, str> {
    let escape = |c: char| c.is_control() && !kept.contains(&c);
    if !text.chars().any(escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An input echoed in a message (a name, a value): [`escaped`], and cut to its first
/// [`ECHO_CHARS`] characters and "…" when longer.
pub fn shown(text: &str) -> String {
    escaped(&cut(text, ECHO_CHARS)).into_owned()
}

/// A path as messages show it: [`escaped`] (never cut: a path names a file whole).
pub fn path(path: &Path) -> String {
    escaped(&path.to_string_lossy()).into_owned()
}

/// `text` cut to its first `chars` characters and "…" when longer.
fn cut(text: &str, chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(chars) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// A message line with every quoted input in it (`"…"`, `'…'` or `` `…` ``, as the layers below
/// echo values, keys and flags) longer than [`ECHO_CHARS`] cut to that many characters and
/// "…", and the whole line to [`LINE_CHARS`]. A quote opens only at the start or after a space
/// or an opening bracket, and closes only before the end, a space or punctuation, so that
/// apostrophes (the paper's) are no quotes.
pub fn cut_echoes(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len().min(4 * LINE_CHARS));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = matches!(c, '"' | '\'' | '`')
            && (i == 0 || chars[i - 1].is_whitespace() || "([{=:,".contains(chars[i - 1]));
        if let Some(close) = opens.then(|| closing(&chars, i)).flatten() {
            let inside = close - i - 1;
            out.push(c);
            out.extend(&chars[i + 1..i + 1 + inside.min(ECHO_CHARS)]);
            if inside > ECHO_CHARS {
                out.push('…');
            }
            out.push(c);
            i = close + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    cut(&out, LINE_CHARS).into_owned()
}

/// The index of the quote that closes the one at `open`, if any (in `"…"`, a quote after a
/// backslash is part of the text).
fn closing(chars: &[char], open: usize) -> Option<usize> {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() {
        if quote == '"' && chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == quote && chars.get(i + 1).is_none_or(|next| !next.is_alphanumeric()) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Writes one line of results to standard output, its control characters escaped but for line
/// breaks and tabs (results may span lines). A closed pipe (`nca targets | head -1`) ends the
/// program quietly with status 141, as a Unix tool killed by SIGPIPE; any other failure (a full
/// disk) ends it with one line on standard error and status 1.
pub fn say(line: fmt::Arguments<'_>) {
    let line = line.to_string();
    let mut stdout = io::stdout().lock();
    let written =
        writeln!(stdout, "{}", escaped_but(&line, &['\n', '\t'])).and_then(|()| stdout.flush());
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

/// Writes one line to standard error, every control character in it escaped (a message is one
/// line, whatever the names in it hold), ignoring failure: a message must never end the work it
/// reports on (`nca train … 2>/dev/full` trains to the end).
pub fn note(line: fmt::Arguments<'_>) {
    let line = line.to_string();
    let _ = writeln!(io::stderr().lock(), "{}", escaped(&line));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_unicode_kept() {
        assert_eq!(escaped("a\nb\x1b[2J🦎é\t"), "a\\nb\\u{1b}[2J🦎é\\t");
        assert!(matches!(escaped("plain 🦋"), Cow::Borrowed(_)));
        assert_eq!(shown(&"x".repeat(100)), format!("{}…", "x".repeat(80)));
        assert_eq!(shown("short\n"), "short\\n");
    }

    #[test]
    fn long_quoted_inputs_are_cut_and_apostrophes_are_no_quotes() {
        let long = "a".repeat(300);
        assert_eq!(
            cut_echoes(&format!(
                "x: invalid type: string \"{long}\", expected usize"
            )),
            format!(
                "x: invalid type: string \"{}…\", expected usize",
                "a".repeat(80)
            )
        );
        assert_eq!(
            cut_echoes(&format!("unknown field `{long}`, expected one of `a`")),
            format!("unknown field `{}…`, expected one of `a`", "a".repeat(80))
        );
        assert_eq!(
            cut_echoes(&format!("invalid value '{long}' for '--batch-size <N>'")),
            format!("invalid value '{}…' for '--batch-size <N>'", "a".repeat(80))
        );
        let escaped_quote = format!("string \"{}\\\"{long}\" here", "b".repeat(10));
        assert!(cut_echoes(&escaped_quote).ends_with("…\" here"));
        let prose = format!("the paper's {long} model's run");
        assert_eq!(cut_echoes(&prose), prose);
        assert_eq!(
            cut_echoes(&"z".repeat(5000)).chars().count(),
            LINE_CHARS + 1
        );
    }
}
