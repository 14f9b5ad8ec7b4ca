//! The demo's configuration, read from environment variables (and `.env`).
//!
//! Every variable is optional: with none set, the demo serves encrypted cookie sessions on
//! `http://127.0.0.1:3000` under a random key made at start.
//!
//! | variable | accepts | default |
//! |---|---|---|
//! | `ADDR` | an IP address, or `ip:port` | `127.0.0.1` |
//! | `PORT` | `0`–`65535` (`0`: any free port) | `3000` |
//! | `SESSION_KEYS` | comma-separated secrets, the first seals (`\,` escapes a comma); with `express-session`, the Express app's `secret` list (any length: short ones are warned about) | a random key |
//! | `SESSION_NAME` | a cookie name | `session` (`connect.sid` with `express-session`) |
//! | `SESSION_FORMAT` | `encrypted`, `signed`, `express` (`express-sha256`, `express-sha512`), `express-session` (shares express-session 1.19's sessions: needs `SESSION_STORE`) | `encrypted` |
//! | `SESSION_MAX_AGE` | seconds, `1`–`34560000` (400 days) | none: browser-session cookies |
//! | `SESSION_ABSOLUTE_LIFETIME` | seconds, `60`–`34560000`: the longest a session lives from its creation (log in again to start a new one); encrypted and signed formats | `2592000` (30 days) |
//! | `SESSION_SECURE` | `auto`, `true`, `false` | `auto` (follows the request) |
//! | `SESSION_TRUST_PROXY` | `true`, `false` | `false` |
//! | `SESSION_STORE` | `cookie`, `memory`, `sqlite:PATH`, `redis://…`, `redis-cluster://HOST:PORT,HOST:PORT,…` (seed nodes of a Redis Cluster), `postgres://…` (a store needs `encrypted` or `signed`); with `express-session`, `redis://…` (connect-redis's layout) or `postgres://…` (connect-pg-simple's table `session`, created when missing) | `cookie` |
//! | `SESSION_MIGRATE_FROM` | a comma-separated list of older formats to also open and re-issue in `SESSION_FORMAT`: `express` (Express `cookie-session`), `express-session` (express-session's `connect.sid` and its store's record, only read; needs `SESSION_MIGRATE_STORE`) | none |
//! | `SESSION_MIGRATE_KEYS` | the old format's keys (express-session's `secret` list), comma-separated, the first signs (`\,` escapes a comma); any length, none shared with `SESSION_KEYS`; needed with `SESSION_MIGRATE_FROM` | none |
//! | `SESSION_MIGRATE_NAME` | the old cookie's name | `session` (`connect.sid` for `express-session`) |
//! | `SESSION_MIGRATE_STORE` | express-session's store, to migrate from: `redis://…` (connect-redis's layout) or `postgres://…` (connect-pg-simple's table `session`) | none |
//!
//! An empty value counts as unset, so a `.env` template with `SESSION_KEYS=` works.
//!
//! ```
//! use demo::DemoConfig;
//!
//! let config = DemoConfig::from_vars(|name| match name {
//!     "SESSION_FORMAT" => Some("signed".to_owned()),
//!     _ => None,
//! })?;
//! assert_eq!(config.format().as_str(), "signed");
//! assert!(config.generated_key());
//!
//! let err = DemoConfig::from_vars(|name| (name == "SESSION_SECURE").then(|| "yes".to_owned()))
//!     .unwrap_err();
//! assert_eq!(err.var(), "SESSION_SECURE");
//! # Ok::<(), demo::ConfigError>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use cookie_session::format::Format;
use cookie_session::migrate::Legacy;
use cookie_session::store::{
    ExpressPgStore, ExpressRedisStore, ExpressSessionStore, MemoryStore, PostgresStore, RedisStore,
    SqliteStore,
};
use cookie_session::{ExpressSessionMode, KeyError, KeyRing, SessionConfig, SessionLayer};
use rand::RngCore as _;
use zeroize::{Zeroize as _, Zeroizing};

/// Every variable the demo reads.
pub const VARS: [&str; 14] = [
    "ADDR",
    "PORT",
    "SESSION_KEYS",
    "SESSION_NAME",
    "SESSION_FORMAT",
    "SESSION_MAX_AGE",
    "SESSION_ABSOLUTE_LIFETIME",
    "SESSION_SECURE",
    "SESSION_TRUST_PROXY",
    "SESSION_STORE",
    "SESSION_MIGRATE_FROM",
    "SESSION_MIGRATE_KEYS",
    "SESSION_MIGRATE_NAME",
    "SESSION_MIGRATE_STORE",
];

/// The `SESSION_FORMAT` that shares express-session's sessions.
pub const EXPRESS_SESSION: &str = "express-session";

/// The default port.
pub const DEFAULT_PORT: u16 = 3000;

/// The longest `SESSION_MAX_AGE`: 400 days, the most browsers keep a cookie (RFC 6265bis).
pub const MAX_MAX_AGE_SECS: u64 = 400 * 24 * 60 * 60;

/// The default `SESSION_ABSOLUTE_LIFETIME`: 30 days, as long as "remember me" lasts.
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A configuration value the demo cannot use. Its text names the variable and what it accepts
/// on one line, and never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable holds a value outside what it accepts.
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it held.
        value: String,
        /// What it accepts.
        expected: &'static str,
    },
    /// The store named by `SESSION_STORE` could not be reached or set up. The text names the
    /// kind of store and the driver's reason, never the URL (it may hold a password).
    #[error("SESSION_STORE: cannot use the {kind} store: {reason}")]
    Store {
        /// `sqlite`, `redis` or `postgres`.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// `SESSION_KEYS` cannot be used with the chosen format. The secret is never shown.
    #[error("SESSION_KEYS is not valid: {0}")]
    Keys(KeyError),
    /// The cookie name, or its prefix with the `SESSION_SECURE` setting, breaks a cookie rule.
    #[error("SESSION_NAME is not valid: {0}")]
    Name(String),
    /// A variable holds bytes that are not UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUnicode(&'static str),
    /// A `.env` file exists but cannot be read.
    #[error(".env could not be loaded: {0}")]
    DotEnv(String),
    /// `SESSION_MIGRATE_KEYS` is missing, cannot be parsed, or shares a key with
    /// `SESSION_KEYS`. The secrets are never shown.
    #[error("SESSION_MIGRATE_KEYS is not valid: {0}")]
    MigrateKeys(String),
    /// The store named by `SESSION_MIGRATE_STORE` could not be reached. The text gives the
    /// driver's reason, never the URL (it may hold a password).
    #[error("SESSION_MIGRATE_STORE: cannot use the express-session store: {0}")]
    MigrateStore(String),
}

impl ConfigError {
    /// The variable at fault (`".env"` for a broken `.env` file).
    pub fn var(&self) -> &'static str {
        match self {
            ConfigError::Invalid { var, .. } | ConfigError::NotUnicode(var) => var,
            ConfigError::Store { .. } => "SESSION_STORE",
            ConfigError::Keys(_) => "SESSION_KEYS",
            ConfigError::Name(_) => "SESSION_NAME",
            ConfigError::DotEnv(_) => ".env",
            ConfigError::MigrateKeys(_) => "SESSION_MIGRATE_KEYS",
            ConfigError::MigrateStore(_) => "SESSION_MIGRATE_STORE",
        }
    }
}

/// Whether the session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecureMode {
    /// When the request came over HTTPS (or `X-Forwarded-Proto: https` from a trusted proxy).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Where sessions live (`SESSION_STORE`).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// In the cookie itself (the default).
    Cookie,
    /// In this process's memory: the cookie holds a sealed id.
    Memory,
    /// In a SQLite file.
    Sqlite(std::path::PathBuf),
    /// In Redis, at this URL.
    Redis(String),
    /// In a Redis Cluster, found through these seed nodes (`redis://HOST:PORT/` each).
    RedisCluster(Vec<String>),
    /// In PostgreSQL, at this URL.
    Postgres(String),
}

impl StoreChoice {
    /// The kind, for logs: never the URL, which may hold a password.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreChoice::Cookie => "cookie",
            StoreChoice::Memory => "memory",
            StoreChoice::Sqlite(_) => "sqlite",
            StoreChoice::Redis(_) => "redis",
            StoreChoice::RedisCluster(_) => "redis-cluster",
            StoreChoice::Postgres(_) => "postgres",
        }
    }

    fn parse(value: String) -> Result<Self, ConfigError> {
        let invalid = |value: String| ConfigError::Invalid {
            var: "SESSION_STORE",
            value,
            expected: "cookie, memory, sqlite:PATH, redis://HOST[:PORT][/DB], \
                 redis-cluster://HOST:PORT,HOST:PORT,… or postgres://USER@HOST/DB",
        };
        if let Some(seeds) = value.strip_prefix("redis-cluster://") {
            let seeds: Vec<String> = seeds
                .split(',')
                .map(|seed| format!("redis://{}/", seed.trim()))
                .collect();
            if seeds.iter().any(|seed| seed == "redis:///") {
                return Err(invalid(value));
            }
            return Ok(StoreChoice::RedisCluster(seeds));
        }
        Ok(match value.as_str() {
            "cookie" => StoreChoice::Cookie,
            "memory" => StoreChoice::Memory,
            v if v.starts_with("redis://") || v.starts_with("rediss://") => {
                StoreChoice::Redis(value)
            }
            v if v.starts_with("postgres://") || v.starts_with("postgresql://") => {
                StoreChoice::Postgres(value)
            }
            v => match v.strip_prefix("sqlite:") {
                Some(path) if !path.is_empty() => StoreChoice::Sqlite(path.into()),
                _ => return Err(invalid(value)),
            },
        })
    }
}

impl std::fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// The demo's checked configuration: build it with [`DemoConfig::from_env`] or
/// [`DemoConfig::from_vars`], call [`DemoConfig::connect`] when it names a store on a server
/// or in a file, then hand it to [`app`](crate::app).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    addr: SocketAddr,
    format: Format,
    /// `SESSION_FORMAT=express-session`: express-session's records in `store`.
    express_session: bool,
    name: String,
    max_age: Option<Duration>,
    absolute_lifetime: Duration,
    secure: SecureMode,
    trust_proxy: bool,
    generated_key: bool,
    key_count: usize,
    store: StoreChoice,
    migrate_from: Vec<&'static str>,
    session: SessionConfig,
    /// `SESSION_MIGRATE_FROM=express-session`: the old secrets and store, connected (and
    /// added to `session`) by [`DemoConfig::connect`].
    migrate_store: Option<(KeyRing, Option<String>, StoreChoice)>,
    /// Built at once for cookie and memory sessions; by [`DemoConfig::connect`] for the rest.
    layer: Option<SessionLayer>,
}

impl DemoConfig {
    /// Reads the configuration from the process environment and from `.env` in the current
    /// directory (or a parent) when one exists. Variables set in the environment win over the
    /// file. The file is only read: nothing is written to the process environment (setting
    /// variables is unsound while other threads may read them).
    pub fn from_env() -> Result<Self, ConfigError> {
        let file = match dotenvy::dotenv_iter() {
            // dotenvy's messages name the line, never echo a value.
            Ok(iter) => iter
                .collect::<Result<std::collections::HashMap<_, _>, _>>()
                .map_err(|e| ConfigError::DotEnv(e.to_string()))?,
            Err(e) if e.not_found() => std::collections::HashMap::new(),
            Err(e) => return Err(ConfigError::DotEnv(e.to_string())),
        };
        for var in VARS {
            if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(var) {
                return Err(ConfigError::NotUnicode(var));
            }
        }
        let config =
            Self::from_vars(|name| std::env::var(name).ok().or_else(|| file.get(name).cloned()));
        // The file's values may hold secrets (SESSION_KEYS): wipe them once read.
        for (_, mut value) in file {
            zeroize::Zeroize::zeroize(&mut value);
        }
        config
    }

    /// Reads the configuration from `get`, which returns a variable's value (or `None` when
    /// unset). Tests pass a map here instead of touching the process environment.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // An empty value counts as unset.
        let get = |name: &str| get(name).filter(|v| !v.is_empty());

        let addr = parse_addr(get("ADDR"), get("PORT"))?;

        let express_session = get("SESSION_FORMAT").as_deref() == Some(EXPRESS_SESSION);
        let format = match get("SESSION_FORMAT") {
            None => Format::Encrypted,
            // The format's cookies are express-session's signed ids, no `Format`.
            Some(_) if express_session => Format::Encrypted,
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                var: "SESSION_FORMAT",
                value,
                expected: "encrypted, signed or express (or express-sha256, express-sha512), or express-session",
            })?,
        };

        let store = match get("SESSION_STORE") {
            None => StoreChoice::Cookie,
            Some(value) => StoreChoice::parse(value)?,
        };
        if express_session && !matches!(store, StoreChoice::Redis(_) | StoreChoice::Postgres(_)) {
            return Err(ConfigError::Invalid {
                var: "SESSION_STORE",
                value: store.kind().to_owned(),
                expected: "redis://… or postgres://… when SESSION_FORMAT is express-session (the Express app's store)",
            });
        }
        if store != StoreChoice::Cookie && !format.has_server_expiry() {
            return Err(ConfigError::Invalid {
                var: "SESSION_STORE",
                value: store.kind().to_owned(),
                expected: "cookie when SESSION_FORMAT is express (a store seals its session id with the encrypted or signed format)",
            });
        }

        let max_age = match get("SESSION_MAX_AGE") {
            None => None,
            Some(value) => match value.parse::<u64>() {
                Ok(secs @ 1..=MAX_MAX_AGE_SECS) => Some(Duration::from_secs(secs)),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "SESSION_MAX_AGE",
                        value,
                        expected: "a whole number of seconds from 1 to 34560000 (400 days)",
                    })
                }
            },
        };

        let absolute_lifetime = match get("SESSION_ABSOLUTE_LIFETIME") {
            None => DEFAULT_ABSOLUTE_LIFETIME,
            Some(value) => match value.parse::<u64>() {
                Ok(secs @ 60..=MAX_MAX_AGE_SECS) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "SESSION_ABSOLUTE_LIFETIME",
                        value,
                        expected: "a whole number of seconds from 60 to 34560000 (400 days)",
                    })
                }
            },
        };

        let secure = match get("SESSION_SECURE").as_deref() {
            None | Some("auto") => SecureMode::Auto,
            Some("true") => SecureMode::Always,
            Some("false") => SecureMode::Never,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "SESSION_SECURE",
                    value: other.to_owned(),
                    expected: "auto, true or false",
                })
            }
        };

        let trust_proxy = match get("SESSION_TRUST_PROXY").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "SESSION_TRUST_PROXY",
                    value: other.to_owned(),
                    expected: "true or false",
                })
            }
        };

        let default_name = if express_session {
            cookie_session::format::express_session::DEFAULT_COOKIE_NAME
        } else {
            cookie_session::DEFAULT_COOKIE_NAME
        };
        let name = get("SESSION_NAME").unwrap_or_else(|| default_name.into());

        let (keys, generated_key) = match get("SESSION_KEYS") {
            Some(list) => {
                let list = Zeroizing::new(list);
                (
                    KeyRing::parse_list(&list).map_err(ConfigError::Keys)?,
                    false,
                )
            }
            None => (random_key_ring(), true),
        };
        let key_count = keys.len();
        let (migrate_from, migrate_store) = parse_migration(&get)?;

        // No request makes a session outlive what is configured here: the library cuts any
        // per-request lifetime to `max_lifetime` — the longest the app grants itself, "remember
        // me" — and the API cuts `max_age_ms` further, to the configured lifetime.
        let mut session = SessionConfig::new(keys)
            .format(format)
            .name(name.clone())
            .max_age(max_age)
            .max_lifetime(max_lifetime(max_age))
            .trust_proxy(trust_proxy);
        // The Express formats have no server-side time to hold it to.
        if format.has_server_expiry() && !express_session {
            session = session.absolute_lifetime(Some(absolute_lifetime));
        }
        for legacy in &migrate_from {
            session = session.migrate_from(legacy.clone());
        }
        match secure {
            SecureMode::Auto => {}
            SecureMode::Always => session = session.secure(true),
            SecureMode::Never => session = session.secure(false),
        }
        let layer = match &store {
            // The old store is reached in `connect`.
            _ if migrate_store.is_some() => None,
            // Built by `connect`, on the Express app's store.
            _ if express_session => None,
            StoreChoice::Cookie => Some(build(session.clone())?),
            StoreChoice::Memory => Some(build(session.clone().store(MemoryStore::new()))?),
            // Checked now, connected by `connect`.
            _ => {
                build(session.clone())?;
                None
            }
        };

        Ok(Self {
            addr,
            format,
            express_session,
            name,
            max_age,
            absolute_lifetime,
            secure,
            trust_proxy,
            generated_key,
            key_count,
            store,
            migrate_from: migrate_from
                .iter()
                .map(Legacy::format_name)
                .chain(migrate_store.is_some().then_some(MIGRATE_EXPRESS_SESSION))
                .collect(),
            migrate_store,
            session,
            layer,
        })
    }

    /// Opens the SQLite file or connects to the Redis or PostgreSQL server `SESSION_STORE`
    /// names, and builds the session layer on it. Does nothing for cookie and memory sessions.
    pub async fn connect(mut self) -> Result<Self, ConfigError> {
        if self.layer.is_some() {
            return Ok(self);
        }
        let kind = self.store.kind();
        let failed = |reason: String| ConfigError::Store { kind, reason };
        let mut session = self.session.clone();
        if let Some((ring, name, old)) = &self.migrate_store {
            let failed = |reason: String| ConfigError::MigrateStore(reason);
            // The Express app's table: only read, never created here.
            let old = express_store(old, false).await.map_err(failed)?;
            let legacy = Legacy::express_session_shared(ring.clone(), old);
            session = session.migrate_from(match name {
                Some(name) => legacy.name(name.clone()),
                None => legacy,
            });
        }
        if self.express_session {
            // As connect-pg-simple's `createTableIfMissing` does.
            let store = express_store(&self.store, true).await.map_err(failed)?;
            let mode = ExpressSessionMode::shared(store);
            self.layer = Some(build(session.express_session(mode))?);
            return Ok(self);
        }
        let with_store = match &self.store {
            StoreChoice::Sqlite(path) => session.store(
                SqliteStore::open(path)
                    .await
                    .map_err(|e| failed(e.to_string()))?,
            ),
            StoreChoice::Redis(url) => session.store(
                RedisStore::connect(url)
                    .await
                    .map_err(|e| failed(e.to_string()))?,
            ),
            StoreChoice::RedisCluster(seeds) => session.store(
                RedisStore::connect_cluster(seeds)
                    .await
                    .map_err(|e| failed(e.to_string()))?,
            ),
            StoreChoice::Postgres(url) => session.store(
                PostgresStore::connect(url)
                    .await
                    .map_err(|e| failed(e.to_string()))?,
            ),
            StoreChoice::Memory => session.store(MemoryStore::new()),
            StoreChoice::Cookie => session,
        };
        self.layer = Some(build(with_store)?);
        Ok(self)
    }

    /// The older formats also opened and re-issued in [`format`](Self::format)
    /// (`SESSION_MIGRATE_FROM`), by name: empty when none.
    pub fn migrate_from(&self) -> &[&'static str] {
        &self.migrate_from
    }

    /// Where sessions live.
    pub fn store(&self) -> &StoreChoice {
        &self.store
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The cookie format (`encrypted` in express-session mode, where the cookie is
    /// express-session's signed id: see [`express_session`](Self::express_session)).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether sessions are express-session's (`SESSION_FORMAT=express-session`).
    pub fn express_session(&self) -> bool {
        self.express_session
    }

    /// The `SESSION_FORMAT` in effect, for logs and pages.
    pub fn format_name(&self) -> &'static str {
        if self.express_session {
            EXPRESS_SESSION
        } else {
            self.format.as_str()
        }
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The configured `Max-Age` (`None`: browser-session cookies).
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// The lifetime a session gets from this configuration alone, and the most a request's
    /// `max_age_ms` may ask for: `SESSION_MAX_AGE`, else the library's 24-hour lifetime of
    /// browser-session cookies.
    pub fn session_lifetime(&self) -> Duration {
        self.max_age.unwrap_or(cookie_session::DEFAULT_TTL)
    }

    /// `SESSION_ABSOLUTE_LIFETIME`: the longest a session lives from its creation, however
    /// often it is written (encrypted and signed formats).
    pub fn absolute_lifetime(&self) -> Duration {
        self.absolute_lifetime
    }

    /// The `Secure` policy.
    pub fn secure(&self) -> SecureMode {
        self.secure
    }

    /// Whether `X-Forwarded-Proto` is believed.
    pub fn trust_proxy(&self) -> bool {
        self.trust_proxy
    }

    /// Whether `SESSION_KEYS` was unset and a random key was made for this run: sessions will
    /// not survive a restart.
    pub fn generated_key(&self) -> bool {
        self.generated_key
    }

    /// How many keys the ring holds.
    pub fn key_count(&self) -> usize {
        self.key_count
    }

    /// The session layer, once built (`None` until [`DemoConfig::connect`] for a store on a
    /// server or in a file).
    pub fn layer(&self) -> Option<SessionLayer> {
        self.layer.clone()
    }
}

/// The longest lifetime one response may give a session: the configured one, or "remember me"
/// when that is longer.
fn max_lifetime(max_age: Option<Duration>) -> Duration {
    max_age
        .unwrap_or(cookie_session::DEFAULT_TTL)
        .max(crate::REMEMBER_FOR)
}

/// The express-session store `choice` names (Redis or PostgreSQL; the others are refused by
/// `from_vars`), its table created first when `create_table`.
async fn express_store(
    choice: &StoreChoice,
    create_table: bool,
) -> Result<Arc<dyn ExpressSessionStore>, String> {
    match choice {
        StoreChoice::Redis(url) => Ok(Arc::new(
            ExpressRedisStore::connect(url)
                .await
                .map_err(|e| e.to_string())?,
        )),
        StoreChoice::Postgres(url) => {
            let pool = cookie_session::store::sqlx::PgPool::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            let store = ExpressPgStore::new(pool);
            if create_table {
                store
                    .create_table_if_missing()
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(Arc::new(store))
        }
        _ => Err("not an express-session store".into()),
    }
}
/// Builds a session layer, naming the variable at fault on error.
fn build(session: SessionConfig) -> Result<SessionLayer, ConfigError> {
    session.build().map_err(|e| match e {
        cookie_session::ConfigError::Key(e) => ConfigError::Keys(e),
        e @ cookie_session::ConfigError::MigrateSharesKey => {
            ConfigError::MigrateKeys(e.to_string())
        }
        other => ConfigError::Name(other.to_string()),
    })
}

/// An old store to migrate from: the secrets, the cookie name (`None`: `connect.sid`), the store.
type MigrateStore = (KeyRing, Option<String>, StoreChoice);

/// The `SESSION_MIGRATE_FROM` name of express-session's sessions.
const MIGRATE_EXPRESS_SESSION: &str = "express-session";

/// `SESSION_MIGRATE_FROM`, `SESSION_MIGRATE_KEYS`, `SESSION_MIGRATE_NAME` and
/// `SESSION_MIGRATE_STORE` into the old formats to open: those read from the cookie alone, and
/// express-session's, whose store is connected later. Keys without a format, a format without
/// keys, or a store without `express-session` are refused: each alone is a half-done
/// configuration.
fn parse_migration(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(Vec<Legacy>, Option<MigrateStore>), ConfigError> {
    let keys = get("SESSION_MIGRATE_KEYS").map(Zeroizing::new);
    let store = get("SESSION_MIGRATE_STORE");
    let Some(list) = get("SESSION_MIGRATE_FROM") else {
        if keys.is_some() || store.is_some() {
            return Err(ConfigError::Invalid {
                var: "SESSION_MIGRATE_FROM",
                value: String::new(),
                expected: "a format to migrate from (express, express-session) when SESSION_MIGRATE_KEYS or SESSION_MIGRATE_STORE is set",
            });
        }
        return Ok((Vec::new(), None));
    };
    let Some(keys) = keys else {
        return Err(ConfigError::MigrateKeys(
            "SESSION_MIGRATE_FROM needs the old format's keys in SESSION_MIGRATE_KEYS".into(),
        ));
    };
    let ring = KeyRing::parse_list(&keys).map_err(|e| ConfigError::MigrateKeys(e.to_string()))?;
    let name = get("SESSION_MIGRATE_NAME");
    if let Some(name) = &name {
        let rules = cookie_session::cookie::CookieAttributes::default();
        rules.validate(name).map_err(|e| ConfigError::Invalid {
            var: "SESSION_MIGRATE_NAME",
            value: format!("{name} ({e})"),
            expected: "the old cookie's name, a valid cookie name",
        })?;
    }
    let mut sources = Vec::new();
    let mut stored = None;
    for source in list.split(',').map(str::trim) {
        let legacy = match source {
            "express" => Legacy::express(ring.clone()),
            MIGRATE_EXPRESS_SESSION if stored.is_some() => {
                return Err(ConfigError::Invalid {
                    var: "SESSION_MIGRATE_FROM",
                    value: list.clone(),
                    expected: "each format once",
                })
            }
            MIGRATE_EXPRESS_SESSION => {
                let old = match store.clone().map(StoreChoice::parse).transpose() {
                    Ok(Some(old @ (StoreChoice::Redis(_) | StoreChoice::Postgres(_)))) => old,
                    _ => {
                        return Err(ConfigError::Invalid {
                            var: "SESSION_MIGRATE_STORE",
                            // A URL may hold a password: only its kind is shown.
                            value: store
                                .as_deref()
                                .and_then(|s| s.split_once(':'))
                                .map_or("", |(scheme, _)| scheme)
                                .to_owned(),
                            expected: "express-session's store, redis://… or postgres://…, with SESSION_MIGRATE_FROM=express-session",
                        });
                    }
                };
                stored = Some((ring.clone(), name.clone(), old));
                continue;
            }
            _ => {
                return Err(ConfigError::Invalid {
                    var: "SESSION_MIGRATE_FROM",
                    value: source.to_owned(),
                    expected: "a comma-separated list of: express, express-session",
                })
            }
        };
        if sources
            .iter()
            .any(|l: &Legacy| l.format_name() == legacy.format_name())
        {
            return Err(ConfigError::Invalid {
                var: "SESSION_MIGRATE_FROM",
                value: list.clone(),
                expected: "each format once",
            });
        }
        sources.push(match &name {
            Some(name) => legacy.name(name.clone()),
            None => legacy,
        });
    }
    if store.is_some() && stored.is_none() {
        return Err(ConfigError::Invalid {
            var: "SESSION_MIGRATE_STORE",
            value: String::new(),
            expected: "unset unless SESSION_MIGRATE_FROM lists express-session",
        });
    }
    Ok((sources, stored))
}

/// `ADDR` (an IP, or `ip:port`) and `PORT` into a socket address.
fn parse_addr(addr: Option<String>, port: Option<String>) -> Result<SocketAddr, ConfigError> {
    let port = match port {
        None => None,
        Some(value) => Some(value.parse::<u16>().map_err(|_| ConfigError::Invalid {
            var: "PORT",
            value,
            expected: "a port number from 0 to 65535 (0: any free port)",
        })?),
    };
    let Some(addr) = addr else {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port.unwrap_or(DEFAULT_PORT),
        ));
    };
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port.unwrap_or(DEFAULT_PORT)));
    }
    match addr.parse::<SocketAddr>() {
        Ok(socket) if port.is_none() => Ok(socket),
        Ok(_) => Err(ConfigError::Invalid {
            var: "ADDR",
            value: addr,
            expected: "an IP address without a port when PORT is set (or unset PORT)",
        }),
        Err(_) => Err(ConfigError::Invalid {
            var: "ADDR",
            value: addr,
            expected: "an IP address (127.0.0.1, ::1) or ip:port (127.0.0.1:3000)",
        }),
    }
}

/// A ring of one fresh key: 32 random bytes from the OS, base64url, as `cookie-session keygen`
/// prints them.
fn random_key_ring() -> KeyRing {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    bytes.zeroize();
    match KeyRing::new([secret.as_bytes()]) {
        Ok(ring) => ring,
        // 43 non-empty characters: `KeyRing::new` only refuses empty lists and empty keys.
        Err(_) => unreachable!("a 43-character key is accepted"),
    }
}
