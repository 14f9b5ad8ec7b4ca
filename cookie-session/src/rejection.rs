//! Why a cookie was not accepted: the codecs' reasons (malformed, bad signature…), the time
//! policy's (expired, too old…) and the store's (revoked, unknown session), in one list.

/// Declares [`Rejection`] from one list of `Variant => "name"` lines: the enum, its names
/// ([`Rejection::as_str`]) and the list of every reason ([`Rejection::ALL`]) all come from it,
/// so a reason cannot be added to one and forgotten in another.
macro_rules! rejections {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// Why a cookie was not accepted. Every rejection means the same thing to the request: a
        /// fresh empty session. The reason exists for logs, metrics and the `decode` command.
        ///
        /// # Examples
        ///
        /// ```
        /// use cookie_session::Rejection;
        ///
        /// assert_eq!(Rejection::BadSignature.to_string(), "bad_signature");
        /// assert!(Rejection::ALL.contains(&Rejection::Expired));
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Rejection {
            $($(#[$doc])* $variant,)+
        }

        impl Rejection {
            /// Every reason, in declaration order (the order of
            /// [`MetricsSnapshot::rejected`](crate::MetricsSnapshot::rejected)).
            pub const ALL: [Rejection; Rejection::COUNT] = [$(Rejection::$variant,)+];

            /// How many reasons there are.
            pub const COUNT: usize = [$($name,)+].len();

            /// A short stable name for logs and the `decode` command (`"expired"`,
            /// `"bad_signature"`…).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Rejection::$variant => $name,)+
                }
            }
        }
    };
}

rejections! {
    /// No cookie of that name (or an empty one).
    Missing => "missing",
    /// Not decodable at all: bad base64, too short, wrong version or format byte, too large.
    Malformed => "malformed",
    /// The key id names no key of the ring (removed after a rotation, or never ours).
    UnknownKey => "unknown_key",
    /// The MAC, AEAD tag or keygrip signature does not verify: tampered, truncated, sealed for
    /// another cookie name, or sealed by a key that is not in the ring.
    BadSignature => "bad_signature",
    /// The signature cookie (`<name>.sig`) of the Express format is absent or empty.
    MissingSignature => "missing_signature",
    /// The payload authenticated but is not a JSON object.
    BadPayload => "bad_payload",
    /// The authenticated expiry has passed.
    Expired => "expired",
    /// The authenticated issued-at lies in the future beyond the allowed clock skew.
    IssuedInFuture => "issued_in_future",
    /// The session is older than the configured absolute lifetime.
    TooOld => "too_old",
    /// The session was revoked (created before the user's revocation time).
    Revoked => "revoked",
    /// Store mode: the cookie names a session the store does not hold (expired, destroyed,
    /// revoked). A new session starts, under a new id.
    UnknownSession => "unknown_session",
}

impl Rejection {
    /// The position of this reason in [`Rejection::ALL`]: the variants carry no explicit
    /// discriminant and `ALL` lists them in declaration order, so the discriminant is the index
    /// (checked by `index_is_the_position_in_all`).
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all() {
        assert_eq!(Rejection::ALL.len(), Rejection::COUNT);
        for (i, reason) in Rejection::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason:?}");
        }
    }

    #[test]
    fn names_are_unique_and_match_the_variants() {
        let mut seen = std::collections::HashSet::new();
        for reason in Rejection::ALL {
            let name = reason.as_str();
            assert!(seen.insert(name), "{name} is used twice");
            assert_eq!(reason.to_string(), name);
            // The name is the variant in snake_case, so the two lists cannot drift apart.
            let mut snake = String::new();
            for (i, c) in format!("{reason:?}").chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            assert_eq!(name, snake);
        }
        assert_eq!(seen.len(), Rejection::COUNT);
    }
}
