//! The one interface the session layer's express-session mode needs over the two backends
//! ([`ExpressRedisStore`](super::ExpressRedisStore), [`ExpressPgStore`](super::ExpressPgStore)).
//!
//! The trait is sealed: the layer relies on what these two backends promise (compare-and-swap
//! `save` on the exact text loaded, `create` that never overwrites, `touch` that never
//! recreates; `docs/EXPRESS-SESSION.md` §3), which another implementation could not be
//! checked for.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::express_outcome::{Loaded, Saved};
use super::StoreError;
use crate::format::express_session::{CookieMeta, Record};

/// A boxed future, as the sealed trait's methods return.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) mod sealed {
    use super::*;

    /// The operations of `docs/EXPRESS-SESSION.md` §3's table.
    pub trait Ops {
        fn load<'a>(
            &'a self,
            sid: &'a str,
            now_ms: i64,
        ) -> BoxFuture<'a, Result<Loaded, StoreError>>;
        fn create<'a>(
            &'a self,
            sid: &'a str,
            record: &'a Record,
            now_ms: i64,
        ) -> BoxFuture<'a, Result<bool, StoreError>>;
        fn save<'a>(
            &'a self,
            sid: &'a str,
            loaded: &'a str,
            record: &'a Record,
            now_ms: i64,
        ) -> BoxFuture<'a, Result<Saved, StoreError>>;
        fn touch<'a>(
            &'a self,
            sid: &'a str,
            cookie: &'a CookieMeta,
            now_ms: i64,
        ) -> BoxFuture<'a, Result<bool, StoreError>>;
        fn destroy<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    }
}

/// A store in one of express-session's layouts, usable by the session layer's express-session
/// mode ([`SessionConfig::express_session`](crate::SessionConfig::express_session)).
///
/// Implemented by [`ExpressRedisStore`](super::ExpressRedisStore) (feature `redis`) and
/// [`ExpressPgStore`](super::ExpressPgStore) (feature `postgres`); sealed.
pub trait ExpressSessionStore: sealed::Ops + fmt::Debug + Send + Sync + 'static {}

#[cfg(any(feature = "redis", feature = "postgres"))]
macro_rules! ops {
    ($store:ty) => {
        impl sealed::Ops for $store {
            fn load<'a>(
                &'a self,
                sid: &'a str,
                now_ms: i64,
            ) -> BoxFuture<'a, Result<Loaded, StoreError>> {
                Box::pin(<$store>::load(self, sid, now_ms))
            }
            fn create<'a>(
                &'a self,
                sid: &'a str,
                record: &'a Record,
                now_ms: i64,
            ) -> BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(<$store>::create(self, sid, record, now_ms))
            }
            fn save<'a>(
                &'a self,
                sid: &'a str,
                loaded: &'a str,
                record: &'a Record,
                now_ms: i64,
            ) -> BoxFuture<'a, Result<Saved, StoreError>> {
                Box::pin(<$store>::save(self, sid, loaded, record, now_ms))
            }
            fn touch<'a>(
                &'a self,
                sid: &'a str,
                cookie: &'a CookieMeta,
                now_ms: i64,
            ) -> BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(<$store>::touch(self, sid, cookie, now_ms))
            }
            fn destroy<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(<$store>::destroy(self, sid))
            }
        }
        impl ExpressSessionStore for $store {}
    };
}

#[cfg(feature = "redis")]
ops!(super::ExpressRedisStore);
#[cfg(feature = "postgres")]
ops!(super::ExpressPgStore);
