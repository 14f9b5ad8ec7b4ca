//! Sealing and rendering the session cookie for one response: the one place where expiry
//! times, the browser lifetime, the size limit and the split into chunks are decided.

use std::time::{Duration, SystemTime};

use super::{Outcome, SessionError, Shared};
use crate::cookie::{
    append_attributes, render_set_cookie, CookieAttributes, Lifetime, ATTRIBUTES_ROOM,
};
use crate::format::{wipe, Decoded, Index, Timestamps};
use crate::time::unix_secs;

/// Which session cookies the request carried, so a response that changes the layout (one
/// cookie ↔ chunks, more ↔ fewer chunks) also removes the ones no longer used.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Present {
    /// The single `name` cookie.
    pub(crate) single: bool,
    /// Chunks `name.0` … `name.{chunks-1}`.
    pub(crate) chunks: usize,
}

/// Buffers of an earlier request, reused by the next one so the hot path allocates less: kept
/// with a pooled session handle (`session/pool.rs`). Their content is dropped before reuse;
/// the two that may hold a session's plaintext are wiped when the handle goes back to the
/// pool and when it is freed.
#[derive(Default)]
pub(crate) struct Spare {
    /// The canonical JSON, sealed in place (plaintext when the write was skipped).
    pub(crate) json: Vec<u8>,
    /// The entry index of the JSON last written into `json` (`format/index.rs`): offsets only,
    /// no session content.
    pub(crate) index: Index,
    /// The cookie value decoded and opened in place; the session's JSON text and entries
    /// live in it while the request runs (`format/data.rs`).
    pub(crate) decoded: Decoded,
    /// The `Set-Cookie` text, copied out at its exact length: a `HeaderValue` then takes
    /// the copy without allocating a block of its own, as it must for a string with spare
    /// capacity.
    text: String,
    /// The list of `Set-Cookie` values, given back by the layer once it has added them.
    pub(crate) cookies: Vec<String>,
}

impl Spare {
    /// Wipes the buffers that may hold plaintext, keeping their memory.
    pub(crate) fn wipe(&mut self) {
        wipe(&mut self.json);
        self.decoded.wipe();
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// How much later than a fresh expiry an earlier one must be, at least, to count as a longer
/// lifetime an earlier response chose ([`Writer::kept_expiry`]); the configured clock skew
/// raises it, so instances whose clocks differ by as much as the configuration allows never
/// turn a browser-session cookie into a persistent one.
const KEPT_MARGIN_SECS: u64 = 60;

/// The longest lifetime a write may give: the explicit `max_lifetime`, else (formats with a
/// server-side expiry) the lifetime the configuration gives without any per-request override.
/// So a handler passing a client's wish to `set_max_age` cannot extend a session — or a stolen
/// cookie — past what the application configured.
fn ceiling(shared: &Shared, now: SystemTime) -> Option<Duration> {
    match shared.max_lifetime {
        Some(max) => Some(max),
        None if shared.codec.format().has_server_expiry() => {
            Some(shared.attributes.lifetime(now).unwrap_or(shared.ttl))
        }
        None => None,
    }
}

/// Seals and renders cookies for one response.
pub(crate) struct Writer<'a> {
    shared: &'a Shared,
    attrs: &'a CookieAttributes,
    /// The handler chose this response's lifetime: nothing earlier is kept.
    lifetime_set: bool,
    /// The longest lifetime this write may give ([`ceiling`]).
    ceiling: Option<Duration>,
    /// The browser lifetime this response asks for (`None`: a browser-session cookie), cut to
    /// the ceiling.
    lifetime: Option<Duration>,
    secure: bool,
    now: SystemTime,
    /// `now` in whole seconds since the epoch, read once: a write asks for it several times.
    now_secs: u64,
    present: Present,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        attrs: &'a CookieAttributes,
        lifetime_set: bool,
        secure: bool,
        present: Present,
    ) -> Self {
        let now = shared.now();
        let ceiling = ceiling(shared, now);
        let lifetime = attrs
            .lifetime(now)
            .map(|wanted| ceiling.map_or(wanted, |ceiling| wanted.min(ceiling)));
        Writer {
            shared,
            attrs,
            lifetime_set,
            ceiling,
            lifetime,
            secure,
            now,
            now_secs: unix_secs(now),
            present,
        }
    }

    /// Whether this response's cookie is persistent (has a `Max-Age`).
    pub(crate) fn has_lifetime(&self) -> bool {
        self.lifetime.is_some()
    }

    pub(crate) fn now_secs(&self) -> u64 {
        self.now_secs
    }

    /// The expiry a session written now gets: its lifetime (the cookie's `max_age`, or the
    /// configured TTL for a browser-session cookie), never past the absolute deadline.
    pub(crate) fn fresh_expiry(&self, created_at: u64) -> u64 {
        self.now_secs()
            .saturating_add(self.idle_secs())
            .min(self.shared.time.deadline(created_at))
    }

    /// The expiry an earlier response gave the session (`earlier`: the cookie's sealed expiry,
    /// or the record's), when this write keeps it: the handler set no lifetime on this
    /// response, and `earlier` is later than `fresh` (the [`Writer::fresh_expiry`]) by more
    /// than a clock's drift (60 s, or the configured clock skew if larger). So a lifetime chosen with `Session::set_max_age` ("remember me")
    /// lasts until it runs out: a later write, a key rotation or `rolling` never shortens it
    /// (nor extends it). Never past the ceiling from now, nor the absolute deadline. Formats
    /// without a server-side expiry (Express's) keep Express's rule: each response has its
    /// own.
    fn kept_expiry(&self, earlier: u64, created_at: u64, fresh: u64) -> Option<u64> {
        if self.lifetime_set || !self.shared.codec.format().has_server_expiry() {
            return None;
        }
        let margin = KEPT_MARGIN_SECS.max(self.shared.time.clock_skew.as_secs());
        if earlier <= fresh.saturating_add(margin) {
            return None;
        }
        let ceiling = self.ceiling?.as_secs();
        let kept = earlier
            .min(self.now_secs.saturating_add(ceiling))
            .min(self.shared.time.deadline(created_at));
        (kept > fresh.saturating_add(margin)).then_some(kept)
    }

    /// The expiry a write gives a session that had `earlier`: kept
    /// ([`Writer::kept_expiry`]), else fresh.
    pub(crate) fn expiry_after(&self, earlier: u64, created_at: u64) -> u64 {
        let fresh = self.fresh_expiry(created_at);
        self.kept_expiry(earlier, created_at, fresh)
            .unwrap_or(fresh)
    }

    /// How long a session written now lives without activity, in seconds: never past the
    /// ceiling, also for a browser-session cookie (whose server lifetime is the TTL).
    pub(crate) fn idle_secs(&self) -> u64 {
        let idle = self.lifetime.unwrap_or(self.shared.ttl);
        self.ceiling
            .map_or(idle, |ceiling| idle.min(ceiling))
            .as_secs()
    }

    fn render(&self, name: &str, value: &str, lifetime: Lifetime) -> String {
        let style = self.shared.codec.header_style();
        render_set_cookie(
            style,
            name,
            value,
            self.attrs,
            self.secure,
            lifetime,
            self.now,
        )
    }

    /// Removal cookies for the chunks from `from` on that the request carried.
    fn clear_chunks(&self, from: usize, out: &mut Vec<String>) {
        for name in self
            .shared
            .chunk_names
            .iter()
            .take(self.present.chunks)
            .skip(from)
        {
            out.push(self.render(name, "", Lifetime::Clear));
        }
    }

    /// The cookies that remove the session (docs/EXPRESS-COMPATIBILITY.md §4 "Clearing"; docs/SECURITY-CHECKLIST.md item 40):
    /// the session cookie, Express's `.sig` (carrying `sign("<name>=")`, as Express does), and
    /// any chunks the request carried.
    pub(crate) fn clear(&self) -> Outcome {
        let codec = &self.shared.codec;
        let mut set_cookies = vec![self.render(codec.name(), "", Lifetime::Clear)];
        if let (Some(sig_name), Some(sig)) = (codec.sig_name(), codec.clearing_sig()) {
            set_cookies.push(self.render(sig_name, &sig, Lifetime::Clear));
        }
        self.clear_chunks(0, &mut set_cookies);
        Outcome {
            touched: true,
            set_cookies,
            error: None,
        }
    }

    /// Seals `canonical` and renders it. `previous` are the times of the session it replaces:
    /// its creation time is kept, and its expiry when [`Writer::kept_expiry`] keeps it (then
    /// the cookie's `Max-Age` runs to it). `expires_at` fixes the sealed expiry (a rotation
    /// re-issue keeps it; a store-mode cookie's is the record's outer bound), else it is the
    /// kept or a fresh one.
    pub(crate) fn write(
        &self,
        canonical: &[u8],
        previous: Option<Timestamps>,
        expires_at: Option<u64>,
    ) -> Outcome {
        let buffer = self.shared.codec.canonical_buffer_from(canonical);
        self.write_buffer(buffer, false, previous, expires_at, &mut Spare::default())
    }

    /// [`Writer::write`] of a buffer from `Codec::canonical_buffer_in`: the buffer is sealed in
    /// place, followed by `spare.index` when `indexed` (the buffer came from
    /// `canonical_buffer_in` with it), and encoded straight into the `Set-Cookie` text, which
    /// the attributes then complete. The buffer, the text and the list of values go back to
    /// `spare` for the next write; the header is the one allocation when they come from an
    /// earlier one.
    pub(crate) fn write_buffer(
        &self,
        mut buffer: Vec<u8>,
        indexed: bool,
        previous: Option<Timestamps>,
        expires_at: Option<u64>,
        spare: &mut Spare,
    ) -> Outcome {
        let shared = self.shared;
        let codec = &shared.codec;
        let now = self.now_secs();
        let created_at = previous.map_or(now, |t| t.created_at);
        let fresh = self.fresh_expiry(created_at);
        let kept = previous.and_then(|t| self.kept_expiry(t.expires_at, created_at, fresh));
        let expires_at = expires_at.or(kept).unwrap_or(fresh);
        let lifetime = match (kept, self.lifetime) {
            (Some(kept), _) => Lifetime::For(Duration::from_secs(kept.saturating_sub(now))),
            // The browser never keeps a native cookie longer than the server accepts it
            // (docs/SECURITY-CHECKLIST.md item 19); Express cookies have no server-side expiry.
            (None, Some(wanted)) if codec.format().has_server_expiry() => {
                Lifetime::For(wanted.min(Duration::from_secs(expires_at.saturating_sub(now))))
            }
            (None, Some(wanted)) => Lifetime::For(wanted),
            (None, None) => Lifetime::Session,
        };
        let times = Timestamps {
            created_at,
            // A session created by an instance whose clock is ahead of this one (by less than
            // the skew `TimePolicy::check` allows) is re-sealed as issued no earlier than it
            // was created: `created_at > issued_at` is a malformed cookie, which logged the
            // user out on every instance (tests/remember.rs
            // clock_drift_within_the_skew_is_not_a_remembered_lifetime).
            issued_at: now.max(created_at),
            expires_at,
        };
        let name = codec.name();
        let json_len = buffer.len().saturating_sub(codec.json_start());
        // The index only saves work when the value is read again: a session it would push past
        // the size limit (into chunks, or an error) is sealed without it.
        let limit = shared.max_cookie_size;
        let index = if indexed { spare.index.as_bytes() } else { &[] };
        let indexed_len = name.len() + 1 + codec.sealed_len(json_len + index.len());
        let index = if indexed_len <= limit { index } else { &[] };
        let sealed_len = codec.sealed_len(json_len + index.len());
        let cookie = &mut spare.text;
        cookie.clear();
        cookie.reserve(name.len() + 1 + sealed_len + ATTRIBUTES_ROOM);
        cookie.push_str(name);
        cookie.push('=');
        let sealed_sig = codec.seal_buffer(&mut buffer, index, times, cookie);
        spare.json = buffer;
        let value = cookie.get(name.len() + 1..).unwrap_or_default();

        // The value cookie, then the signature cookie of the Express format.
        let sig = codec.sig_name().zip(sealed_sig.as_deref());
        let cookies = std::iter::once((name, value)).chain(sig);
        let oversized = cookies
            .clone()
            .find(|(name, value)| name.len() + 1 + value.len() > limit);
        let chunked = oversized.and_then(|_| self.split(value));
        if let (Some((name, value)), None) = (oversized, &chunked) {
            shared.metrics.oversized();
            return Outcome {
                touched: true,
                set_cookies: Vec::new(),
                error: Some(SessionError::CookieTooLarge {
                    name: name.to_owned(),
                    size: name.len() + 1 + value.len(),
                    limit,
                }),
            };
        }
        let mut set_cookies = std::mem::take(&mut spare.cookies);
        set_cookies.clear();
        match chunked {
            None => {
                let style = codec.header_style();
                append_attributes(cookie, style, self.attrs, self.secure, lifetime, self.now);
                set_cookies.push(cookie.clone());
                if let Some((sig_name, sig)) = codec.sig_name().zip(sealed_sig.as_deref()) {
                    set_cookies.push(self.render(sig_name, sig, lifetime));
                }
                self.clear_chunks(0, &mut set_cookies);
            }
            Some(chunks) => {
                for (name, value) in shared.chunk_names.iter().zip(&chunks) {
                    set_cookies.push(self.render(name, value, lifetime));
                }
                self.clear_chunks(chunks.len(), &mut set_cookies);
                if self.present.single {
                    set_cookies.push(self.render(codec.name(), "", Lifetime::Clear));
                }
            }
        }
        Outcome {
            touched: true,
            set_cookies,
            error: None,
        }
    }

    /// Splits an oversized value over `name.0`, `name.1`, … each within the limit, when the
    /// layer allows it and the chunks fit in its cookie budget. The seal covers the whole
    /// value, so a missing, swapped or stale chunk makes the reassembled value fail to open.
    fn split<'v>(&self, value: &'v str) -> Option<Vec<&'v str>> {
        let names = &self.shared.chunk_names;
        let longest_name = names.last()?.len();
        let room = self
            .shared
            .max_cookie_size
            .checked_sub(longest_name + 1)
            .filter(|room| *room > 0)?;
        // Native values are ASCII (base64url and '.'), so every byte offset is a char boundary.
        let chunks: Vec<&str> = (0..value.len())
            .step_by(room)
            .filter_map(|start| value.get(start..(start + room).min(value.len())))
            .collect();
        (chunks.len() <= names.len()).then_some(chunks)
    }
}
