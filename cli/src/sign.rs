//! `sign`: the `Set-Cookie` values the server would send for a session.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use cookie_session::cookie::{Priority, SameSite, MAX_COOKIE_LIFETIME};
use cookie_session::format::{Cipher, Format};
use cookie_session::SessionConfig;
use serde_json::{Map, Value};

use crate::args::{AttributeArgs, CipherArg, PriorityArg, SameSiteArg, SignArgs, LAST_SECOND};
use crate::error::CliError;
use crate::{keys, output};

/// Seals the session and prints one `Set-Cookie` value per line.
pub fn run(args: &SignArgs) -> Result<ExitCode, CliError> {
    let data = parse_session(&args.json)?;
    let ring = keys::load(args.server.keys.as_deref())?;
    let format = args.server.format;
    let mut config = SessionConfig::new(ring)
        .format(format)
        .name(args.server.name.as_str());
    config = apply_attributes(config, format, &args.attributes);
    if let Some(cipher) = args.cipher {
        if format != Format::Encrypted {
            return Err(CliError::usage(
                "--cipher only applies to --format encrypted",
            ));
        }
        config = config.cipher(match cipher {
            CipherArg::Auto => Cipher::Auto,
            CipherArg::XChaCha20Poly1305 => Cipher::XChaCha20Poly1305,
            CipherArg::Xaes256Gcm => Cipher::Xaes256Gcm,
        });
    }
    if let Some(ms) = args.max_age_ms {
        config = config.max_age(Some(Duration::from_millis(ms)));
    }
    if let Some(ms) = args.now {
        // `--now` is at most the end of year 9999 (checked by clap): this cannot overflow.
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let lifetime = args
            .max_age_ms
            .map_or(Duration::ZERO, Duration::from_millis);
        if ms / 1000 + lifetime.min(MAX_COOKIE_LIFETIME).as_secs() > LAST_SECOND {
            return Err(CliError::usage(
                "--now plus --max-age-ms ends after the year 9999, which a cookie's Expires date cannot name",
            ));
        }
        config = config.clock(move || at);
    }
    let layer = config.build()?;
    for header in layer.encode(data)? {
        output::print_line(&header);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--json`, which must be a JSON object.
fn parse_session(json: &str) -> Result<Map<String, Value>, CliError> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::usage(
            "--json must be a JSON object, like '{\"views\":1}'",
        )),
        Err(e) => Err(CliError::usage(format!("--json is not valid JSON: {e}"))),
    }
}

/// The cookie attributes: the flags over the defaults, which are the library's for native
/// formats and Express cookie-session's (no SameSite) for the express formats.
fn apply_attributes(
    mut config: SessionConfig,
    format: Format,
    attrs: &AttributeArgs,
) -> SessionConfig {
    let default_same_site = match format {
        Format::Express(_) => None,
        _ => Some(SameSite::Lax),
    };
    let same_site = match attrs.same_site {
        None => default_same_site,
        Some(SameSiteArg::Strict) => Some(SameSite::Strict),
        Some(SameSiteArg::Lax) => Some(SameSite::Lax),
        Some(SameSiteArg::None) => Some(SameSite::None),
        Some(SameSiteArg::Off) => None,
    };
    config = config.same_site(same_site);
    if let Some(path) = &attrs.path {
        config = config.path(path.as_str());
    }
    if attrs.domain.is_some() {
        config = config.domain(attrs.domain.clone());
    }
    if attrs.secure {
        config = config.secure(true);
    }
    if attrs.no_http_only {
        config = config.http_only(false);
    }
    if attrs.partitioned {
        config = config.partitioned(true);
    }
    if let Some(priority) = attrs.priority {
        config = config.priority(Some(match priority {
            PriorityArg::Low => Priority::Low,
            PriorityArg::Medium => Priority::Medium,
            PriorityArg::High => Priority::High,
        }));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_must_be_an_object() {
        assert!(parse_session("[1]").is_err());
        assert!(parse_session("{").is_err());
        let map = parse_session(r#"{"b":1,"a":2}"#).expect("an object");
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a"]);
    }
}
