//! The recorded Express vectors replayed through the session layer in the `express` format:
//! same options, same request, an equivalent handler — and the same `Set-Cookie` headers, byte
//! for byte, except where this library deliberately does better. Every deviation is asserted
//! in tests/support/express_replay.rs, with its reason, so none is silent; the actix-web
//! middleware replays the same vectors (tests/actix.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/express_replay.rs"]
mod express_replay;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use cookie_session::Session;
use express_replay::{replay_all, run, Act, Answer, Replay};
use http::{Request, Response};
use tower::ServiceExt;

async fn replay(replay: Replay) -> Answer {
    let Replay {
        layer,
        act,
        path,
        tls,
        headers,
    } = replay;
    let app = Router::new()
        .route(
            "/",
            get(move |s: Session| {
                let act = act.clone();
                async move {
                    run(&act, &s);
                    let mut res = Response::new(Body::empty());
                    if matches!(act, Act::OtherCookieThen(_)) {
                        res.headers_mut()
                            .append("set-cookie", "other=1; Path=/".parse().unwrap());
                    }
                    res
                }
            }),
        )
        .route("/untouched", get(|| async {}))
        .layer(layer);
    let uri = if tls {
        format!("https://127.0.0.1{path}")
    } else {
        path.to_owned()
    };
    let mut req = Request::builder().uri(uri);
    for (name, value) in &headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    Answer {
        status: res.status().as_u16(),
        set_cookies: res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect(),
    }
}

#[tokio::test]
async fn vectors_through_the_layer() {
    replay_all(replay).await;
}
