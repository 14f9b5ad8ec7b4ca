//! A bare HTTP/1.1 exchange for tests that talk to a real server over a socket (an Express
//! app, an example binary): one request with `Connection: close`, the answer read to its end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What came back: the status, every `Set-Cookie` header value in order, and the body text
/// (as sent: chunked bodies are not decoded here).
pub struct Answer {
    pub status: u16,
    pub set_cookie: Vec<String>,
    pub body: String,
}

/// Sends `request` (a whole request text, `Connection: close`) to `authority`
/// (`host:port`) and reads the answer until the server closes; `wait` bounds each read.
pub fn exchange(authority: &str, wait: Duration, request: &str) -> Answer {
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let set_cookie = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    Answer {
        status,
        set_cookie,
        body: body.to_owned(),
    }
}
