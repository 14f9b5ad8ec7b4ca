//! `keygen`: a new random secret.

use std::process::ExitCode;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie_session::key::MIN_SECRET_LEN;
use rand::rngs::OsRng;
use rand::RngCore as _;

use crate::args::KeygenArgs;
use crate::error::CliError;
use crate::output;

/// The most bytes `keygen` draws: far more than any key needs, small enough to print.
const MAX_BYTES: usize = 1024;

/// Prints `bytes` bytes from the OS CSPRNG, base64url without padding.
pub fn run(args: &KeygenArgs) -> Result<ExitCode, CliError> {
    let line = generate(args.bytes)?;
    output::print_line(&line);
    Ok(ExitCode::SUCCESS)
}

/// A new secret of `bytes` random bytes, encoded.
fn generate(bytes: usize) -> Result<String, CliError> {
    if !(MIN_SECRET_LEN..=MAX_BYTES).contains(&bytes) {
        return Err(CliError::usage(format!(
            "--bytes must be between {MIN_SECRET_LEN} and {MAX_BYTES}"
        )));
    }
    let mut secret = zeroize::Zeroizing::new(vec![0u8; bytes]);
    OsRng
        .try_fill_bytes(&mut secret)
        .map_err(|e| CliError::usage(format!("the OS random generator failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(secret.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_alphabet() {
        let key = generate(32).expect("32 bytes is allowed");
        assert_eq!(key.len(), 43);
        assert!(key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(generate(31).is_err());
        assert!(generate(MAX_BYTES + 1).is_err());
    }
}
