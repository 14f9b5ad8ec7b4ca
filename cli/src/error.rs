//! Errors and exit codes. Every error is one line on stderr, `error: …`, and never holds a key
//! (the library's errors never do, and the command adds none).

use std::io::Write as _;
use std::process::ExitCode;

/// Exit status: `decode` read a cookie the server would refuse.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: bad usage (arguments, keys, JSON, configuration).
pub const EXIT_USAGE: u8 = 2;

/// A failure of the command, reported as one line.
#[derive(Debug)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// A bad-usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// Prints the error as one line on stderr and gives the exit status.
    pub fn report(self) -> ExitCode {
        let line = one_line(&self.message);
        let line = line.strip_prefix("error: ").unwrap_or(&line);
        // Nothing more can be done if stderr is gone.
        let _ = writeln!(std::io::stderr().lock(), "error: {line}");
        ExitCode::from(self.code)
    }
}

/// Library errors (keys, configuration, encoding) are usage errors; their text never holds a
/// key.
impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::usage(e.to_string())
    }
}

/// Joins a multi-line message into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Handles a command-line parsing failure: help and version go to stdout as clap prints them;
/// anything else becomes a one-line usage error (exit 2).
pub fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            // 0 for --help/--version, 2 when the subcommand is missing.
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE))
        }
        ErrorKind::UnknownArgument if !unknown_is_option(&e) => {
            // A stray value could be a key pasted without --keys: never echo it.
            CliError::usage("unexpected argument (not shown, in case it is a key) (see --help)")
                .report()
        }
        _ => {
            // clap's text is "error: …", a blank line, then usage; keep the first paragraph.
            let text = e.to_string();
            let first = text.split("\n\n").next().unwrap_or_default();
            CliError::usage(format!("{} (see --help)", one_line(first))).report()
        }
    }
}

/// Whether the unknown argument clap found looks like an option (`--frobnicate`), which is
/// safe to name, rather than a stray value.
fn unknown_is_option(e: &clap::Error) -> bool {
    use clap::error::{ContextKind, ContextValue};
    match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.starts_with("--") && !arg.contains('='),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_one_line() {
        assert_eq!(one_line("a:\n  --json <JSON>\n"), "a: --json <JSON>");
    }
}
