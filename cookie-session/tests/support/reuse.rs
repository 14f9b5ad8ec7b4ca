//! The handle-reuse check shared by the tower layer (tests/layer.rs) and the actix-web
//! middleware (tests/actix.rs), which both reuse the handle of a finished request
//! (`cookie-session/src/session/pool.rs`): the handler, and what a reused or kept handle must
//! show.

use std::sync::Mutex;
use std::time::Duration;

use cookie_session::{Session, SessionLayer};

/// What [`handle`] reports for a request that carried no cookie, on a handle a finished
/// request gave back: no rejection, no key, the configured lifetime.
pub const FRESH: &str = "new=true keys=[] max_age=None rejection=None";

/// The handler: reports what the session shows at the start of the request, then acts by
/// `path`. `/keep` keeps a clone of the handle in `kept`, `/override` stores data and a
/// per-request lifetime, anything else stores `{"n": 2}`.
pub fn handle(session: Session, path: &str, kept: &Mutex<Vec<Session>>) -> String {
    let state = format!(
        "new={} keys={:?} max_age={:?} rejection={:?}",
        session.is_new(),
        session.keys(),
        session.cookie_attributes().max_age,
        session.rejection(),
    );
    match path {
        "/keep" => {
            session.insert("kept", 1).unwrap();
            kept.lock().unwrap().push(session);
        }
        "/override" => {
            session.insert("secret", "first request").unwrap();
            session.set_max_age(Some(Duration::from_secs(10)));
        }
        _ => session.insert("n", 2).unwrap(),
    }
    state
}

/// The `Cookie` header of a session holding `data`, written by `layer`.
pub fn cookie_of(layer: &SessionLayer, data: serde_json::Value) -> String {
    let set = layer.encode(data.as_object().cloned().unwrap()).unwrap();
    let pairs: Vec<&str> = set.iter().map(|c| c.split(';').next().unwrap()).collect();
    pairs.join("; ")
}

/// The session `layer` reads from the `Set-Cookie` values of a response.
pub fn written(layer: &SessionLayer, set_cookies: &[String]) -> serde_json::Value {
    let pairs = set_cookies.iter().map(|c| c.split(';').next().unwrap());
    serde_json::Value::Object(layer.decode(pairs).unwrap().data)
}

/// The handles kept by two `/keep` requests that sent [`cookie_of`] `{"a": 1}`: each still
/// reads its own request's session, after later requests reused other handles.
pub fn check_kept(kept: &Mutex<Vec<Session>>, label: &str) {
    let kept = kept.lock().unwrap();
    assert_eq!(kept.len(), 2, "{label}");
    for session in kept.iter() {
        assert_eq!(session.keys(), ["a"], "{label}");
        assert_eq!(session.get::<u64>("a"), Some(1), "{label}");
    }
}
