//! The command line, with clap's derive API.

use clap::{Args, Parser, Subcommand, ValueEnum};
use cookie_session::format::Format;

/// Text shared by the `decode` and `sign` help: how keys are given.
const KEYS_HELP: &str = "\
KEYS:
  --keys takes a comma-separated list, the first key sealing new cookies and every key
  opening them. Inside a key, write a comma as \\, and a backslash as \\\\ (no other escapes;
  spaces are kept). Without --keys, the SESSION_KEYS environment variable is read, after
  loading a .env file from the current directory or a parent. Prefer SESSION_KEYS: command
  arguments are visible to other users of the machine. The encrypted, signed and jwt
  formats need keys of at least 32 bytes (make one with `cookie-session keygen`); the
  express formats accept any non-empty key, as Express does. Keys are never printed, not
  even in errors.";

/// The `decode` help epilogue.
const DECODE_AFTER: &str = "\
OUTPUT:
  One JSON object: {\"valid\", \"key_index\", \"session\", \"reason\"}, plus \"issued_at\",
  \"expires_at\" and \"created_at\" (Unix seconds) for the encrypted, signed and jwt
  formats. When the cookie is refused, valid is false, reason says why (missing, malformed,
  unknown_key, bad_signature, missing_signature, bad_payload, expired, issued_in_future,
  too_old, revoked) and the other fields are null.

EXIT STATUS:
  0  the server would accept the cookie
  1  the server would refuse it (it would start a fresh empty session)
  2  bad usage: arguments, keys, unknown format (one line on stderr)";

/// The `sign` help epilogue.
const SIGN_AFTER: &str = "\
DEFAULTS:
  encrypted, signed and jwt: the library's defaults (Path=/, HttpOnly, SameSite=Lax).
  express*: Express cookie-session's own defaults (path=/, httponly, no samesite), so the
  output is byte for byte what an Express app with cookieSession({name, keys}) sends.
  Secure is only set with --secure (the command signs as for a plain-HTTP request).
  An empty session ({}) prints nothing: a server sends no cookie for a new empty session.

EXIT STATUS:
  0  the Set-Cookie values were printed, one per line
  2  bad usage: arguments, keys, JSON, attributes, cookie too large (one line on stderr)";

/// Cookie sessions: generate keys, decode and sign session cookies as the server does.
#[derive(Debug, Parser)]
#[command(name = "cookie-session", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a new random secret (base64url, no padding) for SESSION_KEYS.
    #[command(after_help = "EXIT STATUS:\n  0  a key was printed\n  2  bad usage")]
    Keygen(KeygenArgs),
    /// Read a Cookie header as the server would and print the session as JSON.
    #[command(after_help = format!("{KEYS_HELP}\n\n{DECODE_AFTER}"))]
    Decode(DecodeArgs),
    /// Print the Set-Cookie header values the server would send for a session.
    #[command(after_help = format!("{KEYS_HELP}\n\n{SIGN_AFTER}"))]
    Sign(SignArgs),
}

/// `keygen` options.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Random bytes to draw from the operating system's CSPRNG (at least 32).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub bytes: usize,
}

/// Options shared by `decode` and `sign`: what the server is configured with.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Cookie format: encrypted, signed, jwt, express, express-sha256 or express-sha512.
    #[arg(long, short = 'f', default_value = "encrypted", value_name = "FORMAT")]
    pub format: Format,
    /// Cookie name (the express formats also use NAME.sig).
    #[arg(long, short = 'n', default_value = "session", value_name = "NAME")]
    pub name: String,
    /// Comma-separated keys, the sealing key first (see KEYS below); default $SESSION_KEYS.
    /// A key may start with `-` (keygen's base64url output can).
    #[arg(
        long,
        short = 'k',
        value_name = "K1,K2,...",
        allow_hyphen_values = true
    )]
    pub keys: Option<String>,
}

/// The last second a cookie date can name, 9999-12-31T23:59:59Z (an HTTP date has four year
/// digits, RFC 9110 §5.6.7): the latest `--now` accepted, so no time computed from it overflows.
pub const LAST_SECOND: u64 = 253_402_300_799;

/// `decode` options.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The server's configuration.
    #[command(flatten)]
    pub server: ServerArgs,
    /// A Cookie request header, e.g. 'a=1; session=...; session.sig=...' (repeat for several
    /// headers). Without it, header lines are read from standard input.
    #[arg(long, short = 'c', value_name = "HEADER")]
    pub cookie: Vec<String>,
    /// Decode as of this time, in Unix SECONDS, at most 253402300799 (the end of year 9999)
    /// (default: now).
    #[arg(long, value_name = "UNIX_SECONDS", value_parser = clap::value_parser!(u64).range(..=LAST_SECOND))]
    pub now: Option<u64>,
}

/// `sign` options.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The server's configuration.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The session, a JSON object, e.g. '{"views":1}'.
    #[arg(long, short = 'j', value_name = "JSON")]
    pub json: String,
    /// Cookie lifetime in milliseconds, as Express's maxAge (default: a browser-session
    /// cookie). For encrypted and signed it is also the server-side lifetime.
    #[arg(long, value_name = "MS")]
    pub max_age_ms: Option<u64>,
    /// Sign as of this time, in Unix MILLISECONDS, to reproduce recorded cookies; at most
    /// 253402300799999 (the end of year 9999) (default: now).
    #[arg(long, value_name = "UNIX_MS", value_parser = clap::value_parser!(u64).range(..=LAST_SECOND * 1000 + 999))]
    pub now: Option<u64>,
    /// The AEAD that seals an encrypted cookie (default: auto, XAES-256-GCM where the CPU
    /// has AES instructions, XChaCha20-Poly1305 elsewhere). Only for --format encrypted; every
    /// server opens both, but a build from before XAES-256-GCM opens only xchacha20-poly1305.
    #[arg(long, value_enum, value_name = "CIPHER")]
    pub cipher: Option<CipherArg>,
    /// Cookie attributes.
    #[command(flatten)]
    pub attributes: AttributeArgs,
}

/// `--cipher` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CipherArg {
    /// What the server picks on this CPU.
    Auto,
    /// XChaCha20-Poly1305 (format version 1).
    #[value(name = "xchacha20-poly1305")]
    XChaCha20Poly1305,
    /// XAES-256-GCM (format version 2).
    #[value(name = "xaes-256-gcm")]
    Xaes256Gcm,
}

/// Cookie attribute flags of `sign`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    /// Path attribute (default /).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Domain attribute (default: none, host-only).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// SameSite attribute; `off` sends none (default: lax for encrypted/signed, off for express).
    #[arg(long, value_enum, value_name = "SAMESITE")]
    pub same_site: Option<SameSiteArg>,
    /// Add Secure.
    #[arg(long)]
    pub secure: bool,
    /// Leave out HttpOnly (scripts could then read the cookie).
    #[arg(long)]
    pub no_http_only: bool,
    /// Add Partitioned (CHIPS; requires --secure).
    #[arg(long)]
    pub partitioned: bool,
    /// Priority attribute.
    #[arg(long, value_enum, value_name = "PRIORITY")]
    pub priority: Option<PriorityArg>,
}

/// `--same-site` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SameSiteArg {
    /// SameSite=Strict.
    Strict,
    /// SameSite=Lax.
    Lax,
    /// SameSite=None (requires --secure).
    None,
    /// No SameSite attribute.
    Off,
}

/// `--priority` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PriorityArg {
    /// Priority=Low.
    Low,
    /// Priority=Medium.
    Medium,
    /// Priority=High.
    High,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
