//! Which cookie is the request's session, when several carry its name.
//!
//! A browser sends every cookie whose domain and path match, so a request can carry several
//! `session=` cookies: ours, and one planted from a sibling subdomain or left from an older
//! path. The session is the first of them, in header order, that passes **every** check:
//! authenticity (the codec), the [`TimePolicy`](crate::TimePolicy) (expiry, absolute lifetime,
//! issued-in-future), then, in [`persist`](super::persist), revocation and the store record.
//! Choosing the first *authentic* one before the other checks would let one planted cookie
//! that is authentic but expired, revoked or destroyed log the user out for good.
//!
//! The Express format is the exception, by design: it reads only the first `name`/`name.sig`
//! pair, exactly as Express does (see [`crate::format::express`]). Its cookies carry no time,
//! so an old authentic pair is as valid as a new one and authenticity is its only check.

use super::Shared;
use crate::format::{Decoded, Rejection, Unsealed};
use crate::time::unix_secs;

/// The most authentic cookies of the name one request makes the server examine. Each costs an
/// open and, in store mode or with revocation, one store round trip; a browser holding our
/// cookie under two paths or domains sends two, so four leaves room while bounding what a
/// client stuffing the header with old authentic cookies can cost. Forged values cost no
/// round trip and are not counted: they are bounded by the header size alone.
pub(crate) const MAX_CANDIDATES: usize = 4;

// `Opening::noted` holds one bit per reason.
const _: () = assert!(Rejection::COUNT <= u32::BITS as usize);

/// The cookies of a request's session name, checked one by one. Refusals are reported
/// (metrics, `tracing`) as they happen, whether or not a later cookie serves, once per reason
/// per request: a planted expired cookie shows, and a header stuffed with thousands of forged
/// values counts once, not thousands of times.
pub(crate) struct Opening<'s, I, V> {
    shared: &'s Shared,
    headers: I,
    candidates: crate::format::Candidates<'s, V>,
    /// The first refusal, for the request's [`Rejection`] when nothing serves.
    first: Rejection,
    /// Authentic cookies examined so far.
    authentic: usize,
    /// The reasons already reported for this request, one bit per
    /// [`Rejection::ALL`] entry.
    noted: u32,
    /// The next way to read the split session (`name.0`, `name.1`, …), `None` when there is
    /// none left to try.
    chunk_attempt: Option<usize>,
}

impl Shared {
    /// Starts choosing the session among the cookies of `headers`.
    pub(crate) fn opening<'s, 'h, I>(
        &'s self,
        headers: I,
    ) -> Opening<'s, I, impl Iterator<Item = &'h str> + use<'s, 'h, I>>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        Opening {
            shared: self,
            candidates: self.codec.candidates(headers.clone()),
            headers,
            first: Rejection::Missing,
            authentic: 0,
            noted: 0,
            chunk_attempt: (!self.chunk_names.is_empty()).then_some(0),
        }
    }
}

impl<'h, I, V> Opening<'_, I, V>
where
    I: IntoIterator<Item = &'h str> + Clone,
    V: Iterator<Item = &'h str>,
{
    /// The next cookie that authenticates and passes the time policy, in header order; `None`
    /// when there is none left or [`MAX_CANDIDATES`] authentic ones were examined.
    pub(crate) fn next_valid(&mut self) -> Option<Unsealed> {
        while self.authentic < MAX_CANDIDATES {
            let candidate = match self.candidates.next() {
                Some(candidate) => candidate,
                None => self.chunks()?,
            };
            // Checked by reference and moved once, on the way out: `Unsealed` is large, and
            // each move is a copy (docs/PERFORMANCE.md, round ten).
            let times = match &candidate {
                Ok(loaded) => loaded.times,
                Err(reason) => {
                    self.reject(*reason);
                    continue;
                }
            };
            self.authentic += 1;
            if let Some(times) = times {
                // Read here, not up front: a request without an authentic cookie never asks
                // the clock.
                let now = unix_secs(self.shared.now());
                if let Err(reason) = self.shared.time.check(&times, now) {
                    self.reject(reason);
                    // Its text goes back to the decode buffer for the next cookie.
                    if let Ok(loaded) = candidate {
                        self.candidates.decoded().keep(loaded.data);
                    }
                    continue;
                }
            }
            return candidate.ok();
        }
        None
    }

    /// The next way to read a split session, once the cookies of the name itself are
    /// exhausted: a cookie of the bare name that fails a check (one planted from a sibling
    /// subdomain, forged or expired) must not hide the chunks the browser holds.
    fn chunks(&mut self) -> Option<Result<Unsealed, Rejection>> {
        let attempt = self.chunk_attempt?;
        let opened = self.shared.open_chunks(self.headers.clone(), attempt);
        self.chunk_attempt = opened.is_some().then_some(attempt + 1);
        opened
    }

    /// Refuses the cookie last returned by [`Opening::next_valid`] (or one the codec refused):
    /// the first reason is kept for the request, and each reason is counted and logged once.
    pub(crate) fn reject(&mut self, reason: Rejection) {
        if reason == Rejection::Missing {
            return;
        }
        if self.first == Rejection::Missing {
            self.first = reason;
        }
        let bit = 1u32 << reason.index();
        if self.noted & bit == 0 {
            self.noted |= bit;
            self.shared.note_rejection(reason);
        }
    }

    /// [`Opening::next_valid`], decoding into `decoded` (an earlier request's, whose memory
    /// is reused): a served session takes its text buffer (and entries' vector), else it
    /// comes back holding what was decoded last.
    #[inline]
    pub(crate) fn next_valid_in(&mut self, decoded: &mut Decoded) -> Option<Unsealed> {
        std::mem::swap(self.candidates.decoded(), decoded);
        let opened = self.next_valid();
        std::mem::swap(self.candidates.decoded(), decoded);
        opened
    }

    /// Why no cookie served: the first refusal, or [`Rejection::Missing`] when there was no
    /// non-empty cookie of the name.
    pub(crate) fn rejection(&self) -> Rejection {
        self.first
    }
}
