//! Configuration from the environment: every bad value names its variable; the binary turns
//! it into one line on stderr and exit status 2.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use demo::{ConfigError, DemoConfig, SecureMode};

fn from(vars: &[(&str, &str)]) -> Result<DemoConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    DemoConfig::from_vars(|name| vars.get(name).cloned())
}

const KEY: &str = "a-test-key-of-at-least-thirty-two-bytes!";

#[test]
fn defaults_need_no_setup() {
    let config = from(&[]).unwrap();
    assert!(config.generated_key());
    assert_eq!(config.key_count(), 1);
    assert_eq!(config.addr().to_string(), "127.0.0.1:3000");
    assert_eq!(config.format().as_str(), "encrypted");
    assert_eq!(config.cookie_name(), "session");
    assert_eq!(config.max_age(), None);
    assert_eq!(config.session_lifetime(), cookie_session::DEFAULT_TTL);
    assert_eq!(
        config.absolute_lifetime(),
        demo::config::DEFAULT_ABSOLUTE_LIFETIME
    );
    assert_eq!(config.secure(), SecureMode::Auto);
    assert!(!config.trust_proxy());
    // Empty values count as unset.
    let config = from(&[("SESSION_KEYS", ""), ("SESSION_FORMAT", ""), ("PORT", "")]).unwrap();
    assert!(config.generated_key());
}

#[test]
fn every_variable_is_read() {
    let config = from(&[
        ("ADDR", "0.0.0.0"),
        ("PORT", "8080"),
        ("SESSION_KEYS", &format!("{KEY},{KEY}-old")),
        ("SESSION_NAME", "sid"),
        ("SESSION_FORMAT", "signed"),
        ("SESSION_MAX_AGE", "3600"),
        ("SESSION_ABSOLUTE_LIFETIME", "7200"),
        ("SESSION_SECURE", "true"),
        ("SESSION_TRUST_PROXY", "true"),
        ("SESSION_STORE", "cookie"),
    ])
    .unwrap();
    assert!(!config.generated_key());
    assert_eq!(config.key_count(), 2);
    assert_eq!(config.addr().to_string(), "0.0.0.0:8080");
    assert_eq!(config.format().as_str(), "signed");
    assert_eq!(config.cookie_name(), "sid");
    assert_eq!(config.max_age(), Some(Duration::from_secs(3600)));
    assert_eq!(config.session_lifetime(), Duration::from_secs(3600));
    assert_eq!(config.absolute_lifetime(), Duration::from_secs(7200));
    assert_eq!(config.secure(), SecureMode::Always);
    assert!(config.trust_proxy());

    let config = from(&[("ADDR", "[::1]:4000"), ("SESSION_SECURE", "false")]).unwrap();
    assert_eq!(config.addr().to_string(), "[::1]:4000");
    assert_eq!(config.secure(), SecureMode::Never);
    assert_eq!(
        from(&[("SESSION_FORMAT", "express-sha256")])
            .unwrap()
            .format()
            .as_str(),
        "express-sha256"
    );
    // The Express format takes any non-empty key, as keygrip does.
    assert!(from(&[("SESSION_FORMAT", "express"), ("SESSION_KEYS", "short")]).is_ok());
}

#[test]
fn every_bad_value_names_its_variable() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("SESSION_FORMAT", "jwe")],
            "SESSION_FORMAT",
            "encrypted, signed or express",
        ),
        (&[("SESSION_MAX_AGE", "soon")], "SESSION_MAX_AGE", "seconds"),
        (&[("SESSION_MAX_AGE", "0")], "SESSION_MAX_AGE", "seconds"),
        (&[("SESSION_MAX_AGE", "-5")], "SESSION_MAX_AGE", "seconds"),
        (
            &[("SESSION_MAX_AGE", "34560001")],
            "SESSION_MAX_AGE",
            "400 days",
        ),
        (
            &[("SESSION_ABSOLUTE_LIFETIME", "59")],
            "SESSION_ABSOLUTE_LIFETIME",
            "60 to 34560000",
        ),
        (
            &[("SESSION_ABSOLUTE_LIFETIME", "34560001")],
            "SESSION_ABSOLUTE_LIFETIME",
            "400 days",
        ),
        (
            &[("SESSION_ABSOLUTE_LIFETIME", "1d")],
            "SESSION_ABSOLUTE_LIFETIME",
            "seconds",
        ),
        (
            &[("SESSION_SECURE", "yes")],
            "SESSION_SECURE",
            "auto, true or false",
        ),
        (
            &[("SESSION_TRUST_PROXY", "1")],
            "SESSION_TRUST_PROXY",
            "true or false",
        ),
        (
            &[("SESSION_STORE", "redis")],
            "SESSION_STORE",
            "sqlite:PATH",
        ),
        (
            &[(
                "SESSION_STORE",
                "redis-cluster://127.0.0.1:7000,,127.0.0.1:7001",
            )],
            "SESSION_STORE",
            "redis-cluster://",
        ),
        (
            &[("SESSION_STORE", "sqlite:")],
            "SESSION_STORE",
            "sqlite:PATH",
        ),
        (
            &[("SESSION_STORE", "memory"), ("SESSION_FORMAT", "express")],
            "SESSION_STORE",
            "SESSION_FORMAT is express",
        ),
        (
            &[("SESSION_KEYS", "short")],
            "SESSION_KEYS",
            "at least 32 bytes",
        ),
        (
            &[("SESSION_FORMAT", "express-session")],
            "SESSION_STORE",
            "SESSION_FORMAT is express-session",
        ),
        (
            &[
                ("SESSION_FORMAT", "express-session"),
                ("SESSION_STORE", "memory"),
            ],
            "SESSION_STORE",
            "SESSION_FORMAT is express-session",
        ),
        (
            &[
                ("SESSION_FORMAT", "express-session"),
                ("SESSION_STORE", "sqlite:/tmp/x.db"),
            ],
            "SESSION_STORE",
            "SESSION_FORMAT is express-session",
        ),
        (&[("SESSION_KEYS", "a,,b")], "SESSION_KEYS", "empty"),
        (
            &[("SESSION_KEYS", &format!("{KEY},{KEY}"))],
            "SESSION_KEYS",
            "same secret",
        ),
        (&[("SESSION_NAME", "bad name")], "SESSION_NAME", "bad name"),
        (&[("SESSION_NAME", "__Host-sid")], "SESSION_NAME", "__Host-"),
        // Browsers match the prefixes in any case, so the rules do too.
        (&[("SESSION_NAME", "__host-sid")], "SESSION_NAME", "__Host-"),
        (
            &[
                ("SESSION_NAME", "__SECURE-sid"),
                ("SESSION_SECURE", "false"),
            ],
            "SESSION_NAME",
            "__Secure-",
        ),
        (&[("PORT", "http")], "PORT", "0 to 65535"),
        (&[("PORT", "70000")], "PORT", "0 to 65535"),
        (&[("ADDR", "localhost")], "ADDR", "IP address"),
        (&[("ADDR", "127.0.0.1:80"), ("PORT", "81")], "ADDR", "PORT"),
    ];
    for (vars, var, hint) in cases {
        let err = from(vars).unwrap_err();
        let message = err.to_string();
        assert_eq!(err.var(), *var, "{vars:?}: {message}");
        assert!(message.starts_with(var), "{vars:?}: {message}");
        assert!(message.contains(hint), "{vars:?}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
    // A key is never echoed.
    let err = from(&[("SESSION_KEYS", "short-secret-value")]).unwrap_err();
    assert!(!err.to_string().contains("short-secret-value"));
    // `__Host-` works once the cookie is always Secure.
    assert!(from(&[("SESSION_NAME", "__Host-sid"), ("SESSION_SECURE", "true")]).is_ok());
}

/// `SESSION_FORMAT=express-session`: `connect.sid`, the Express app's secrets of any length,
/// and a Redis or PostgreSQL store (connected by `connect`).
#[test]
fn express_session_mode() {
    for store in ["redis://127.0.0.1:1/", "postgres://app@127.0.0.1:1/app"] {
        let config = from(&[
            ("SESSION_FORMAT", "express-session"),
            ("SESSION_STORE", store),
            ("SESSION_KEYS", "keyboard cat"),
        ])
        .unwrap();
        assert!(config.express_session());
        assert_eq!(config.format_name(), "express-session");
        assert_eq!(config.cookie_name(), "connect.sid");
        assert!(config.layer().is_none(), "built on the store, by connect");
    }
    let named = from(&[
        ("SESSION_FORMAT", "express-session"),
        ("SESSION_STORE", "redis://127.0.0.1:1/"),
        ("SESSION_NAME", "sid"),
    ])
    .unwrap();
    assert_eq!(named.cookie_name(), "sid");
    // The other formats keep their names.
    assert_eq!(from(&[]).unwrap().format_name(), "encrypted");
}

/// express-session mode without a usable store: one line naming the variable, status 2.
#[test]
fn binary_refuses_express_session_without_its_store() {
    for store in [None, Some("memory"), Some("redis://127.0.0.1:1/")] {
        let mut command = demo_command();
        command
            .env("SESSION_FORMAT", "express-session")
            .env("SESSION_KEYS", "keyboard cat");
        if let Some(store) = store {
            command.env("SESSION_STORE", store);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{store:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("SESSION_STORE"), "{stderr}");
        assert!(!stderr.contains("keyboard cat"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

fn demo_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    // A clean environment: no inherited SESSION_* and no `.env` above the temp dir.
    command
        .env_clear()
        .current_dir(std::env::temp_dir())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

#[test]
fn binary_reports_bad_values_on_one_line_with_status_2() {
    for (var, value) in [
        ("SESSION_FORMAT", "jwe"),
        ("SESSION_STORE", "redis"),
        // Nothing listens there: the connection is refused at start, before serving.
        ("SESSION_STORE", "redis://127.0.0.1:1/"),
        // A Redis Cluster none of whose seed nodes answers.
        ("SESSION_STORE", "redis-cluster://127.0.0.1:1,127.0.0.1:2"),
        ("SESSION_SECURE", "maybe"),
        ("SESSION_KEYS", "short"),
    ] {
        let output = demo_command().env(var, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var), "{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
        assert!(output.stdout.is_empty());
    }
}

/// `.env` is read (its values count), and a variable set in the environment wins over it.
#[test]
fn binary_reads_dotenv_and_the_environment_wins() {
    let dir = std::env::temp_dir().join(format!("demo-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), "SESSION_FORMAT=jwe\n").unwrap();
    let run = |vars: &[(&str, &str)]| {
        let output = demo_command()
            .current_dir(&dir)
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{vars:?}");
        String::from_utf8(output.stderr).unwrap()
    };
    // The file's bad format is reported...
    let stderr = run(&[]);
    assert!(stderr.contains("SESSION_FORMAT"), "{stderr}");
    // ...unless the environment sets a good one: then the next bad value is the one reported.
    let stderr = run(&[("SESSION_FORMAT", "signed"), ("SESSION_SECURE", "maybe")]);
    assert!(
        stderr.contains("SESSION_SECURE") && !stderr.contains("SESSION_FORMAT"),
        "{stderr}"
    );
    // A malformed file is an error of its own.
    std::fs::write(dir.join(".env"), "SESSION_FORMAT='unterminated\n").unwrap();
    let stderr = run(&[]);
    assert!(stderr.contains(".env"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn binary_serves_warns_once_and_stops_on_sigterm() {
    let mut child = demo_command()
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("Open ")
        .and_then(|l| l.strip_suffix(" in your browser"))
        .unwrap_or_else(|| panic!("{line}"));
    let authority = url.strip_prefix("http://127.0.0.1:").unwrap();
    let port: u16 = authority.parse().unwrap();

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("id=\"counter\""));

    // SIGTERM: a graceful stop with status 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));

    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("SESSION_KEYS"));
    assert!(warnings[0].contains("cookie-session keygen"));
    assert!(warnings[0].contains("restart"));
    // No cookie value in the logs.
    assert!(!stderr.contains("session="), "{stderr}");
}
