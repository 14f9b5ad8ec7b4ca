//! The key ring: an ordered list of secrets. The first seals new cookies, every one opens.
//!
//! Secrets are kept in [`Zeroizing`] buffers, so they are wiped from memory when the ring is
//! dropped, and no `Debug` impl or error in this crate ever prints one.
//!
//! ```
//! use cookie_session::KeyRing;
//!
//! // The first key seals new cookies; "old-…" still opens cookies sealed before the rotation.
//! let ring = KeyRing::new(["new-secret-at-least-32-bytes-long!!", "old-secret-at-least-32-bytes-long!!"])?;
//! assert_eq!(ring.len(), 2);
//! assert_eq!(format!("{ring:?}"), "KeyRing { keys: 2 }");
//! # Ok::<(), cookie_session::KeyError>(())
//! ```

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The environment variable [`KeyRing::from_env`] reads.
pub const SESSION_KEYS_VAR: &str = "SESSION_KEYS";

/// The shortest secret the native formats (`encrypted`, `signed`) accept, in bytes.
///
/// 32 bytes is the key size of the ciphers and MACs behind them; a shorter secret would make
/// the derived keys weaker than the algorithms (docs/SECURITY-CHECKLIST.md item 22). `keygen` prints
/// 32 random bytes as 43 base64url characters.
pub const MIN_SECRET_LEN: usize = 32;

/// An error building a [`KeyRing`] or using one with a format. It never contains a secret.
///
/// Its `Debug` output is its message (which names every field), so that a program whose
/// `main` returns it through `?`, as the README's does, prints what to do rather than a
/// variant name (`Error: Empty`).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The ring has no key at all.
    #[error("no session keys: set {SESSION_KEYS_VAR} (comma-separated; generate one with `cookie-session keygen`)")]
    Empty,
    /// The key at `index` (0-based) is the empty string.
    #[error("session key #{index} is empty")]
    EmptyKey {
        /// Position of the key in the ring.
        index: usize,
    },
    /// The key at `index` is shorter than a native format needs.
    #[error("session key #{index} is {len} bytes; the {format} format needs at least {min} bytes (generate one with `cookie-session keygen`)")]
    TooShort {
        /// Position of the key in the ring.
        index: usize,
        /// Its length in bytes.
        len: usize,
        /// The minimum for the format.
        min: usize,
        /// The format that refused it.
        format: &'static str,
    },
    /// Two keys of the ring derive the same key id (in practice: the same secret twice).
    #[error("session keys #{first} and #{second} are the same secret")]
    Duplicate {
        /// The earlier position.
        first: usize,
        /// The later position.
        second: usize,
    },
    /// `SESSION_KEYS` holds something that is not valid text.
    #[error("{SESSION_KEYS_VAR} is not valid UTF-8")]
    NotUnicode,
    /// `SESSION_KEYS` is not set in the environment, and the `.env` file found could not be
    /// read or parsed.
    #[error("{SESSION_KEYS_VAR} is not set, and .env (in the working directory or a parent) could not be read: {0}")]
    DotEnv(String),
}

impl fmt::Debug for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An ordered list of secrets: index 0 seals new cookies, every key opens.
///
/// Build it from strings or bytes with [`KeyRing::new`], or from the environment with
/// [`KeyRing::from_env`]. Which format uses it decides the minimum length: the native formats
/// need [`MIN_SECRET_LEN`] bytes per key, the Express format accepts any non-empty string, as
/// keygrip does. That check runs when the session layer is built, never at request time.
///
/// # Examples
///
/// ```
/// use cookie_session::KeyRing;
///
/// // Rotation: the new key first; cookies sealed by the old one still open, and are re-issued.
/// let keys = KeyRing::new([
///     "the new secret, at least thirty-two bytes long",
///     "the old secret, at least thirty-two bytes long",
/// ])?;
/// assert_eq!(keys.len(), 2);
///
/// // In an application: `SESSION_KEYS` (or `.env`), e.g. from `cookie-session keygen`.
/// # if false {
/// let keys = KeyRing::from_env()?;
/// # }
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
///
/// # Errors
///
/// Building a ring fails with a [`KeyError`] on an empty list or an empty secret, and
/// [`from_env`](Self::from_env) also when `SESSION_KEYS` is unset or not UTF-8 or a `.env`
/// file cannot be read. A secret too short for the chosen format, or two equal secrets, are
/// refused by [`SessionConfig::build`](crate::SessionConfig::build). No error holds a secret.
#[derive(Clone)]
pub struct KeyRing {
    secrets: Vec<Zeroizing<Vec<u8>>>,
}

impl KeyRing {
    /// A ring from secrets, first the one that seals.
    ///
    /// Fails on an empty list or an empty secret.
    ///
    /// ```
    /// # use cookie_session::{KeyRing, KeyError};
    /// assert_eq!(KeyRing::new(Vec::<String>::new()).unwrap_err(), KeyError::Empty);
    /// assert_eq!(KeyRing::new(["a", ""]).unwrap_err(), KeyError::EmptyKey { index: 1 });
    /// ```
    pub fn new<I, S>(secrets: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let secrets: Vec<_> = secrets
            .into_iter()
            .map(|s| Zeroizing::new(s.as_ref().to_vec()))
            .collect();
        if secrets.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some(index) = secrets.iter().position(|s| s.is_empty()) {
            return Err(KeyError::EmptyKey { index });
        }
        Ok(Self { secrets })
    }

    /// A ring from a `SESSION_KEYS`-style list: secrets separated by `,`.
    ///
    /// A secret that contains a comma writes it as `\,`, and a backslash as `\\`; no other
    /// escape exists, and spaces are kept as they are. Secrets from `cookie-session keygen`
    /// (base64url) never need escaping.
    ///
    /// ```
    /// # use cookie_session::KeyRing;
    /// let ring = KeyRing::parse_list(r"first,sec\,ond,back\\slash")?;
    /// assert_eq!(ring.len(), 3);
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn parse_list(list: &str) -> Result<Self, KeyError> {
        let mut secrets = Vec::new();
        let mut current = Zeroizing::new(String::new());
        let mut chars = list.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped @ (',' | '\\')) => current.push(escaped),
                    Some(other) => {
                        current.push('\\');
                        current.push(other);
                    }
                    None => current.push('\\'),
                },
                ',' => secrets.push(std::mem::take(&mut *current)),
                other => current.push(other),
            }
        }
        secrets.push(std::mem::take(&mut *current));
        let ring = Self::new(secrets.iter().map(String::as_bytes));
        for mut s in secrets {
            zeroize::Zeroize::zeroize(&mut s);
        }
        ring
    }

    /// A ring from the `SESSION_KEYS` environment variable or, when it is not set, from a
    /// `SESSION_KEYS=` line of a `.env` file in the current directory (or a parent). The
    /// process environment wins over the file, as with `dotenvy`: when the variable is set,
    /// the file is not read at all (a malformed `.env` of another program, in a parent
    /// directory, cannot stop a deployment that sets its keys in the environment).
    ///
    /// The file is only read: nothing is written to the process environment (setting
    /// variables is unsound while other threads may read them), so other programs' settings
    /// in `.env` are not seen by this process through `std::env`.
    ///
    /// The list is read with [`KeyRing::parse_list`].
    ///
    /// # Errors
    ///
    /// [`KeyError::Empty`] when neither the environment nor `.env` sets `SESSION_KEYS`,
    /// [`KeyError::DotEnv`] when the variable is not set and the `.env` found cannot be read
    /// or parsed, and the errors of [`KeyRing::parse_list`].
    pub fn from_env() -> Result<Self, KeyError> {
        Self::from_env_and(
            std::env::var(SESSION_KEYS_VAR),
            || match dotenvy::dotenv_iter() {
                Ok(iter) => Ok(Some(iter)),
                Err(e) if e.not_found() => Ok(None),
                Err(e) => Err(KeyError::DotEnv(e.to_string())),
            },
        )
    }

    /// `from_env` with its two sources given: the variable's value in the process
    /// environment, and the pairs of a `.env` file, opened only when the variable is not set.
    fn from_env_and<R: std::io::Read>(
        var: Result<String, std::env::VarError>,
        dotenv: impl FnOnce() -> Result<Option<dotenvy::Iter<R>>, KeyError>,
    ) -> Result<Self, KeyError> {
        match var {
            Ok(list) => Self::parse_list(&Zeroizing::new(list)),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::NotUnicode),
            Err(std::env::VarError::NotPresent) => {
                // The whole file is parsed: a malformed line is an error whatever it holds.
                let from_file = match dotenv()? {
                    Some(iter) => dotenv_value(iter, SESSION_KEYS_VAR)?,
                    None => None,
                };
                match from_file {
                    Some(list) => Self::parse_list(&list),
                    None => Err(KeyError::Empty),
                }
            }
        }
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Always `false`: a ring holds at least one key. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The raw secrets in order, the sealing one first.
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &[u8]> {
        self.secrets.iter().map(|s| s.as_slice())
    }

    /// Checks that every secret is long enough for a native format.
    pub(crate) fn require_min_len(&self, format: &'static str) -> Result<(), KeyError> {
        for (index, secret) in self.secrets().enumerate() {
            if secret.len() < MIN_SECRET_LEN {
                return Err(KeyError::TooShort {
                    index,
                    len: secret.len(),
                    min: MIN_SECRET_LEN,
                    format,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Debug for KeyRing {
    /// Prints how many keys there are, never a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.secrets.len())
            .finish()
    }
}

/// The last value `.env` gives `name`, read without touching the process environment.
/// Every line is parsed, so a malformed file is an error whatever it holds.
fn dotenv_value<R: std::io::Read>(
    iter: dotenvy::Iter<R>,
    name: &str,
) -> Result<Option<Zeroizing<String>>, KeyError> {
    let mut found = None;
    for item in iter {
        // dotenvy's errors name the line, never echo a value.
        let (key, value) = item.map_err(|e| KeyError::DotEnv(e.to_string()))?;
        let value = Zeroizing::new(value);
        if key == name {
            found = Some(value);
        }
    }
    Ok(found)
}

/// A 32-byte subkey derived from `secret` for one purpose, with HKDF-SHA256 (RFC 5869).
///
/// The label names the format and the purpose ("cookie-session/v1/encrypted", …), so a key
/// derived for one format never works for another (docs/SECURITY-CHECKLIST.md item 28).
pub(crate) fn derive_subkey(secret: &[u8], label: &str) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // Infallible: 32 bytes is far below HKDF-SHA256's 255 * 32 output limit.
    let _ = Hkdf::<Sha256>::new(None, secret).expand(label.as_bytes(), out.as_mut());
    out
}

/// The length in bytes of a native key id.
pub(crate) const KEY_ID_LEN: usize = 4;

/// A short public id for a secret, carried in native cookies so exactly one key is tried.
///
/// Derived with HKDF under its own label, so it reveals nothing about the secret or the keys
/// derived for sealing.
pub(crate) fn key_id(secret: &[u8]) -> [u8; KEY_ID_LEN] {
    let mut id = [0u8; KEY_ID_LEN];
    let _ = Hkdf::<Sha256>::new(None, secret).expand(b"cookie-session/v1/key-id", &mut id);
    id
}

/// Key ids for every secret of the ring, in order, refusing two secrets with one id.
pub(crate) fn key_ids(ring: &KeyRing) -> Result<Vec<[u8; KEY_ID_LEN]>, KeyError> {
    let ids: Vec<_> = ring.secrets().map(key_id).collect();
    for (second, id) in ids.iter().enumerate() {
        if let Some(first) = ids[..second].iter().position(|other| other == id) {
            return Err(KeyError::Duplicate { first, second });
        }
    }
    Ok(ids)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_list_escapes() {
        let ring = KeyRing::parse_list(r"a\,b,c\\,d\x").unwrap();
        let got: Vec<_> = ring.secrets().map(|s| s.to_vec()).collect();
        assert_eq!(
            got,
            vec![b"a,b".to_vec(), b"c\\".to_vec(), b"d\\x".to_vec()]
        );
    }

    #[test]
    fn parse_list_rejects_empty_entries() {
        assert_eq!(
            KeyRing::parse_list("").unwrap_err(),
            KeyError::EmptyKey { index: 0 }
        );
        assert_eq!(
            KeyRing::parse_list("a,,b").unwrap_err(),
            KeyError::EmptyKey { index: 1 }
        );
    }

    #[test]
    fn min_len_is_checked_per_key() {
        let ring = KeyRing::new([[7u8; 32].as_slice(), b"short"]).unwrap();
        let err = ring.require_min_len("encrypted").unwrap_err();
        assert_eq!(
            err,
            KeyError::TooShort {
                index: 1,
                len: 5,
                min: 32,
                format: "encrypted"
            }
        );
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn duplicate_secrets_are_refused() {
        let ring = KeyRing::new([[1u8; 32], [2u8; 32], [1u8; 32]]).unwrap();
        assert_eq!(
            key_ids(&ring).unwrap_err(),
            KeyError::Duplicate {
                first: 0,
                second: 2
            }
        );
    }

    #[test]
    fn subkeys_differ_by_label_and_are_stable() {
        let a = derive_subkey(b"secret", "cookie-session/v1/encrypted");
        let b = derive_subkey(b"secret", "cookie-session/v1/signed");
        assert_ne!(*a, *b);
        assert_eq!(*a, *derive_subkey(b"secret", "cookie-session/v1/encrypted"));
    }

    /// `.env` is read, never loaded: the process environment is the same afterwards, and a
    /// variable set there wins over the file.
    #[test]
    fn dotenv_is_read_without_touching_the_environment() {
        let dir =
            std::env::temp_dir().join(format!("cookie-session-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(
            &path,
            "COOKIE_SESSION_DOTENV_PROBE=from-file\nSESSION_KEYS=first,second\n",
        )
        .unwrap();
        let before: Vec<_> = std::env::vars_os().collect();

        let file = || Ok(Some(dotenvy::from_path_iter(&path).unwrap()));
        let ring = KeyRing::from_env_and(Err(std::env::VarError::NotPresent), file).unwrap();
        assert_eq!(ring.len(), 2);
        let ring = KeyRing::from_env_and(Ok("only-one".to_owned()), file).unwrap();
        assert_eq!(ring.secrets().collect::<Vec<_>>(), [b"only-one".as_slice()]);

        assert_eq!(std::env::vars_os().collect::<Vec<_>>(), before);
        assert!(std::env::var_os("COOKIE_SESSION_DOTENV_PROBE").is_none());

        // A malformed file: an error when it is needed, not read when the variable is set.
        std::fs::write(&path, "SESSION_KEYS='unterminated\n").unwrap();
        let err = KeyRing::from_env_and(Err(std::env::VarError::NotPresent), file).unwrap_err();
        assert!(matches!(err, KeyError::DotEnv(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("SESSION_KEYS is not set, and .env"),
            "{err}"
        );
        let ring = KeyRing::from_env_and::<std::fs::File>(Ok("only-one".to_owned()), || {
            panic!("the file is not opened when the variable is set")
        })
        .unwrap();
        assert_eq!(ring.len(), 1);
        assert_eq!(
            KeyRing::from_env_and::<std::fs::File>(Err(std::env::VarError::NotPresent), || {
                Ok(None)
            })
            .unwrap_err(),
            KeyError::Empty
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_prints_no_secret() {
        let ring = KeyRing::new(["super-secret-value"]).unwrap();
        let debug = format!("{ring:?}");
        assert!(!debug.contains("super"));
    }

    #[test]
    fn errors_debug_as_their_message() {
        // What `main` returning `Err` prints after "Error: ".
        let err = KeyRing::from_env_and::<&[u8]>(Err(std::env::VarError::NotPresent), || Ok(None))
            .unwrap_err();
        assert_eq!(format!("{err:?}"), err.to_string());
        assert!(format!("{err:?}").starts_with("no session keys: set SESSION_KEYS"));
        let config = crate::ConfigError::from(KeyError::TooShort {
            index: 1,
            len: 5,
            min: 32,
            format: "signed",
        });
        assert_eq!(
            format!("{config:?}"),
            "session key #1 is 5 bytes; the signed format needs at least 32 bytes \
             (generate one with `cookie-session keygen`)"
        );
    }
}
