//! Session handles kept between requests, so the layer's hot path allocates no handle: a
//! request takes a finished request's handle (its `Arc` and lock) and gives it back when its
//! response has left.
//!
//! A handle goes back only when no one else holds it: a handler that kept a clone (in a
//! spawned task, say) keeps seeing its own request's session, and the next request gets a
//! new handle. What a finished request held (its data, its cookies) is dropped when the handle
//! comes back, not when it is reused.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use super::{CookieHeaders, Session, Shared};

/// How many idle handles one layer keeps: about as many as requests in flight at once on a
/// busy server; beyond it, handles are freed as before.
const MAX_IDLE: usize = 256;

/// The idle handles of one layer (every handle holds that layer's [`Shared`]).
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// The idle handles, unless another thread is using them right now: then the request
    /// does without the pool (allocates a handle, or frees its own) rather than wait, so the
    /// pool never makes requests on different threads take turns.
    fn idle(&self) -> Option<MutexGuard<'_, Vec<Session>>> {
        match self.idle.try_lock() {
            Ok(idle) => Some(idle),
            // Every critical section is a push or a pop: a panic cannot leave the list
            // half-changed.
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// A handle for a new request: an idle one, or a new one.
    pub(crate) fn take(
        &self,
        shared: &Arc<Shared>,
        cookies: CookieHeaders,
        secure: bool,
    ) -> Session {
        let idle = self.idle().and_then(|mut idle| idle.pop());
        match idle {
            Some(mut session) => {
                session.restart(cookies, secure);
                session
            }
            None => Session::new(shared.clone(), cookies, secure),
        }
    }

    /// Takes back the handle of a finished request, if no one else holds it, with the
    /// emptied list of `Set-Cookie` values its response was given (no lock taken for it:
    /// an unshared handle is reached directly).
    pub(crate) fn give_back(&self, mut session: Session, set_cookies: Vec<String>) {
        if !session.clear_if_unshared(set_cookies) {
            return;
        }
        let Some(mut idle) = self.idle() else {
            return;
        };
        if idle.len() < MAX_IDLE {
            if idle.capacity() == 0 {
                // Once, so that giving back never grows the vector on the hot path.
                idle.reserve_exact(MAX_IDLE);
            }
            idle.push(session);
        }
    }
}
