//! A synchronizer token against cross-site form posts (OWASP CSRF cheat sheet): a random token
//! kept in the session, echoed in a hidden field of every state-changing form, compared in
//! constant time when the form comes back.
//!
//! `SameSite=Lax` already keeps the cookie off cross-site POSTs in current browsers; the token
//! covers older browsers and same-site (sibling subdomain) attackers.

use cookie_session::Session;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

/// The session key that holds the token.
pub(crate) const SESSION_KEY: &str = "csrf_token";

/// The form field that carries it back.
pub(crate) const FIELD: &str = "csrf_token";

/// The token length in hex characters (16 random bytes).
const TOKEN_LEN: usize = 32;

/// The session's token, made (and stored) on first use.
pub(crate) fn token(session: &Session) -> String {
    if let Some(token) = session.get::<String>(SESSION_KEY) {
        if is_token(&token) {
            return token;
        }
    }
    let token = new_token();
    session.insert_value(SESSION_KEY, token.clone().into());
    token
}

/// Whether `submitted` is the session's token. A session without one never matches, and
/// nothing is written to the session here.
pub(crate) fn verify(session: &Session, submitted: &str) -> bool {
    match session.get::<String>(SESSION_KEY) {
        Some(expected) if is_token(&expected) => {
            bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
}

/// 32 lowercase hex characters from the OS CSPRNG.
fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_LEN / 2];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_token(s: &str) -> bool {
    s.len() == TOKEN_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_hex_and_differ() {
        let a = new_token();
        assert!(is_token(&a));
        assert_ne!(a, new_token());
    }
}
