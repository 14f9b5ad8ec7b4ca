//! Time: an injectable clock, and the one place where a native cookie's times are checked.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::format::Timestamps;
use crate::rejection::Rejection;

/// Where the session layer reads the time. Tests inject a fixed or stepping clock.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// A shared clock handle.
#[derive(Clone)]
pub(crate) struct SharedClock(pub(crate) Arc<dyn Clock>);

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Seconds since the Unix epoch; times before it count as 0.
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The time a Unix-seconds value stands for (saturating far in the future).
pub fn from_unix_secs(secs: u64) -> SystemTime {
    // The first of these the platform's `SystemTime` can hold (Windows' ends in year 30828):
    // no input, however large, panics.
    [secs, i64::MAX as u64 / 2, 253_402_300_799]
        .into_iter()
        .find_map(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The rules a native cookie's authenticated times must pass, whatever the browser sends.
///
/// ```
/// use std::time::Duration;
/// use cookie_session::{format::Timestamps, Rejection, TimePolicy};
///
/// let policy = TimePolicy { clock_skew: Duration::from_secs(60), absolute_lifetime: None };
/// let times = Timestamps { created_at: 1000, issued_at: 1000, expires_at: 2000 };
/// assert_eq!(policy.check(&times, 1999), Ok(()));
/// assert_eq!(policy.check(&times, 2061), Err(Rejection::Expired));
/// assert_eq!(policy.check(&times, 900), Err(Rejection::IssuedInFuture));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePolicy {
    /// How far clocks of the servers sharing the keys may disagree. A cookie issued up to this
    /// far in the future, or expired up to this long ago, is still accepted; beyond, it fails
    /// closed (docs/SECURITY-CHECKLIST.md items 15 and 66).
    pub clock_skew: Duration,
    /// The longest a session may live from its creation, however often it is re-issued
    /// (OWASP's absolute timeout; docs/SECURITY-CHECKLIST.md item 18). `None`: no limit beyond `expires_at`.
    pub absolute_lifetime: Option<Duration>,
}

impl Default for TimePolicy {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(60),
            absolute_lifetime: None,
        }
    }
}

impl TimePolicy {
    /// Checks `times` at `now` (Unix seconds). All arithmetic saturates: no timestamp, however
    /// large, can overflow or wrap into validity.
    pub fn check(&self, times: &Timestamps, now: u64) -> Result<(), Rejection> {
        let skew = self.clock_skew.as_secs();
        if times.created_at > times.issued_at || times.issued_at > times.expires_at {
            return Err(Rejection::Malformed);
        }
        if times.issued_at > now.saturating_add(skew) {
            return Err(Rejection::IssuedInFuture);
        }
        if now > times.expires_at.saturating_add(skew) {
            return Err(Rejection::Expired);
        }
        if let Some(limit) = self.absolute_lifetime {
            if now
                > times
                    .created_at
                    .saturating_add(limit.as_secs())
                    .saturating_add(skew)
            {
                return Err(Rejection::TooOld);
            }
        }
        Ok(())
    }

    /// The latest `expires_at` a session created at `created_at` may be given.
    pub fn deadline(&self, created_at: u64) -> u64 {
        match self.absolute_lifetime {
            Some(limit) => created_at.saturating_add(limit.as_secs()),
            None => u64::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> TimePolicy {
        TimePolicy {
            clock_skew: Duration::from_secs(5),
            absolute_lifetime: Some(Duration::from_secs(100)),
        }
    }

    #[test]
    fn expiry_boundaries() {
        let t = Timestamps {
            created_at: 1000,
            issued_at: 1000,
            expires_at: 1060,
        };
        assert_eq!(policy().check(&t, 1059), Ok(()));
        assert_eq!(policy().check(&t, 1065), Ok(()));
        assert_eq!(policy().check(&t, 1066), Err(Rejection::Expired));
    }

    #[test]
    fn future_and_backwards_clock() {
        let t = Timestamps {
            created_at: 1000,
            issued_at: 1000,
            expires_at: 1060,
        };
        // The clock stepped back by less than the skew: still fine. More: fails closed.
        assert_eq!(policy().check(&t, 995), Ok(()));
        assert_eq!(policy().check(&t, 994), Err(Rejection::IssuedInFuture));
    }

    #[test]
    fn absolute_lifetime_wins_over_refreshes() {
        let t = Timestamps {
            created_at: 1000,
            issued_at: 1090,
            expires_at: 1150,
        };
        assert_eq!(policy().check(&t, 1105), Ok(()));
        assert_eq!(policy().check(&t, 1106), Err(Rejection::TooOld));
        assert_eq!(policy().deadline(1000), 1100);
    }

    #[test]
    fn overflowing_and_inconsistent_times() {
        let max = Timestamps {
            created_at: u64::MAX,
            issued_at: u64::MAX,
            expires_at: u64::MAX,
        };
        assert_eq!(policy().check(&max, 1000), Err(Rejection::IssuedInFuture));
        let inverted = Timestamps {
            created_at: 0,
            issued_at: 10,
            expires_at: 5,
        };
        assert_eq!(policy().check(&inverted, 7), Err(Rejection::Malformed));
        let created_after = Timestamps {
            created_at: 11,
            issued_at: 10,
            expires_at: 50,
        };
        assert_eq!(
            policy().check(&created_after, 20),
            Err(Rejection::Malformed)
        );
        let open = TimePolicy {
            clock_skew: Duration::from_secs(u64::MAX),
            absolute_lifetime: Some(Duration::MAX),
        };
        let t = Timestamps {
            created_at: 0,
            issued_at: 0,
            expires_at: 0,
        };
        assert_eq!(open.check(&t, u64::MAX), Ok(()));
    }
}
