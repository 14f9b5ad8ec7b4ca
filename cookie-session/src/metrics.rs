//! Counters an operator can read: how many sessions were opened from each format, how many
//! cookies were refused, and why; how many sessions could not be sent or saved. Updated with
//! one relaxed atomic add, only on those paths.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::rejection::Rejection;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    rejected: [AtomicU64; Rejection::COUNT],
    oversized: AtomicU64,
    store_errors: AtomicU64,
    /// Sessions opened, per format: the layer's own first, then each legacy source.
    opened: Box<[(&'static str, AtomicU64)]>,
}

impl Metrics {
    /// Counters for a layer reading these formats (its own first).
    pub(crate) fn new(formats: impl IntoIterator<Item = &'static str>) -> Self {
        Metrics {
            opened: formats
                .into_iter()
                .map(|name| (name, AtomicU64::new(0)))
                .collect(),
            ..Metrics::default()
        }
    }

    /// A session was opened from the `index`-th format given to [`Metrics::new`].
    pub(crate) fn opened(&self, index: usize) {
        if let Some((_, count)) = self.opened.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn rejected(&self, reason: Rejection) {
        self.rejected[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn oversized(&self) {
        self.oversized.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            rejected: Rejection::ALL
                .iter()
                .zip(&self.rejected)
                .map(|(reason, count)| (*reason, count.load(Ordering::Relaxed)))
                .filter(|(reason, _)| *reason != Rejection::Missing)
                .collect(),
            oversized: self.oversized.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            opened: self
                .opened
                .iter()
                .fold(Vec::new(), |mut out, (name, count)| {
                    let count = count.load(Ordering::Relaxed);
                    match out.iter_mut().find(|(n, _)| n == name) {
                        Some((_, total)) => *total += count,
                        None => out.push((*name, count)),
                    }
                    out
                }),
        }
    }
}

/// A copy of a layer's counters, from [`SessionLayer::metrics`](crate::SessionLayer::metrics).
///
/// ```
/// # use cookie_session::{KeyRing, Rejection, SessionConfig};
/// let layer = SessionConfig::new(KeyRing::new(["a secret of at least thirty-two bytes!"])?).build()?;
/// let _ = layer.decode(["session=forged"]);
/// assert_eq!(layer.metrics().count(Rejection::Malformed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Refused cookies by reason (a request without a cookie is not a rejection). A request
    /// counts each reason once, also when a later cookie of the name served it, however many
    /// of its cookies were refused for that reason.
    pub rejected: Vec<(Rejection, u64)>,
    /// Responses that failed because the session cookie, or the session to store, was too
    /// large.
    pub oversized: u64,
    /// Requests that failed (or went anonymous) because the store failed.
    pub store_errors: u64,
    /// Sessions opened from a request's cookie, per format: the layer's own format first
    /// ([`Format::as_str`](crate::format::Format::as_str), e.g. `encrypted`), then each
    /// source it [migrates from](crate::SessionConfig::migrate_from)
    /// ([`Legacy::format_name`](crate::migrate::Legacy::format_name), e.g. `express`).
    /// A session is counted once, under the format that served it: an old cookie sent beside
    /// a new one is cleared, not counted. When an old format's count stops growing, nobody
    /// presents it any more.
    pub opened: Vec<(&'static str, u64)>,
}

impl MetricsSnapshot {
    /// How many cookies were refused for `reason`.
    pub fn count(&self, reason: Rejection) -> u64 {
        self.rejected
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// How many sessions were opened from the format named `format` (see
    /// [`opened`](Self::opened)); 0 for a format the layer does not read.
    pub fn opened_count(&self, format: &str) -> u64 {
        self.opened
            .iter()
            .find(|(name, _)| *name == format)
            .map_or(0, |(_, n)| *n)
    }
}
