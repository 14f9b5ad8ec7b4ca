//! `decode`: read a `Cookie` header exactly as the server does.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use cookie_session::format::Loaded;
use cookie_session::{Rejection, SessionConfig};
use serde_json::{Map, Value};

use crate::args::DecodeArgs;
use crate::error::{CliError, EXIT_INVALID};
use crate::{keys, output};

/// Decodes the cookie and prints the JSON report; exit 0 when valid, 1 when not.
pub fn run(args: &DecodeArgs) -> Result<ExitCode, CliError> {
    let ring = keys::load(args.server.keys.as_deref())?;
    let mut config = SessionConfig::new(ring)
        .format(args.server.format)
        .name(args.server.name.as_str());
    if let Some(secs) = args.now {
        // `--now` is at most the end of year 9999 (checked by clap): this cannot overflow.
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        config = config.clock(move || at);
    }
    let layer = config.build()?;

    let headers = if args.cookie.is_empty() {
        read_stdin()?
    } else {
        args.cookie.clone()
    };
    let result = layer.decode(headers.iter().map(String::as_str));
    let native = args.server.format.has_server_expiry();
    let valid = result.is_ok();
    output::print_line(&Value::Object(report(result, native)).to_string());
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

/// `Cookie` header lines from standard input (blank lines and line ends dropped).
fn read_stdin() -> Result<Vec<String>, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(CliError::usage(
            "no --cookie given (pass --cookie 'HEADER' or pipe the header on stdin)",
        ));
    }
    let mut headers = Vec::new();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| CliError::usage(format!("reading stdin: {e}")))?;
        let line = line.trim_end_matches('\r');
        if !line.trim().is_empty() {
            headers.push(line.to_owned());
        }
    }
    Ok(headers)
}

/// The JSON report: `valid`, `key_index`, `session`, `reason`, and for native formats the
/// authenticated times in Unix seconds. The session keeps its decoded key order.
fn report(result: Result<Loaded, Rejection>, native: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let (loaded, reason) = match result {
        Ok(loaded) => (Some(loaded), None),
        Err(rejection) => (None, Some(rejection.as_str())),
    };
    out.insert("valid".into(), Value::Bool(loaded.is_some()));
    out.insert(
        "key_index".into(),
        loaded.as_ref().map_or(Value::Null, |l| l.key_index.into()),
    );
    let times = loaded.as_ref().and_then(|l| l.times);
    out.insert(
        "session".into(),
        loaded.map_or(Value::Null, |l| Value::Object(l.data)),
    );
    out.insert("reason".into(), reason.map_or(Value::Null, Value::from));
    if native {
        let time = |f: fn(&cookie_session::format::Timestamps) -> u64| {
            times.as_ref().map_or(Value::Null, |t| f(t).into())
        };
        out.insert("issued_at".into(), time(|t| t.issued_at));
        out.insert("expires_at".into(), time(|t| t.expires_at));
        out.insert("created_at".into(), time(|t| t.created_at));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cookie_session::format::Timestamps;

    #[test]
    fn report_shapes() {
        let invalid = report(Err(Rejection::Expired), true);
        assert_eq!(
            Value::Object(invalid).to_string(),
            r#"{"valid":false,"key_index":null,"session":null,"reason":"expired","issued_at":null,"expires_at":null,"created_at":null}"#
        );
        let data: Map<String, Value> =
            serde_json::from_str(r#"{"z":1,"a":2}"#).expect("valid JSON");
        let loaded = Loaded {
            key_index: 1,
            times: Some(Timestamps {
                created_at: 1,
                issued_at: 2,
                expires_at: 3,
            }),
            data,
            canonical: Vec::new(),
        };
        assert_eq!(
            Value::Object(report(Ok(loaded.clone()), true)).to_string(),
            r#"{"valid":true,"key_index":1,"session":{"z":1,"a":2},"reason":null,"issued_at":2,"expires_at":3,"created_at":1}"#
        );
        assert_eq!(
            Value::Object(report(Ok(loaded), false)).to_string(),
            r#"{"valid":true,"key_index":1,"session":{"z":1,"a":2},"reason":null}"#
        );
    }
}
