//! Where the keys come from: `--keys`, else `SESSION_KEYS` (after `.env`).

use cookie_session::KeyRing;

use crate::error::CliError;

/// The key ring from `--keys` when given, else from the environment.
pub fn load(keys: Option<&str>) -> Result<KeyRing, CliError> {
    let ring = match keys {
        Some(list) => KeyRing::parse_list(list)?,
        None => KeyRing::from_env()?,
    };
    Ok(ring)
}
