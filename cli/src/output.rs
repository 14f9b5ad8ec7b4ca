//! Writing to stdout without panicking when the reader has gone (`| head`).

use std::io::Write as _;

/// Writes one line to stdout; a closed pipe is not an error worth a panic.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
