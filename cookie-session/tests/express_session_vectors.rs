//! The express-session codecs against what express-session 1.19, connect-redis 10 and
//! connect-pg-simple 10 really did (`tests/data/express-session-vectors.json`, recorded by
//! `interop/express-session/record.js` on real Redis and PostgreSQL; schema at its top).
#![allow(clippy::unwrap_used, missing_docs)]

use cookie_session::format::express_session::{
    find_cookie, is_live, pg_expire_unix_secs, redis_key, redis_ttl_secs, Record, RecordError,
    SidSigner, DEFAULT_COOKIE_NAME, DEFAULT_STORE_TTL_SECS,
};
use cookie_session::{KeyRing, Rejection};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/express-session-vectors.json")).unwrap()
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().unwrap()
}

fn secrets(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn signer_for(secrets: &[String]) -> SidSigner {
    SidSigner::new(&KeyRing::new(secrets).unwrap())
}

/// Every step with a request, with the store as it was before it.
fn request_steps(scenario: &Value) -> Vec<(&Value, &[Value])> {
    let mut out = Vec::new();
    let mut before: &[Value] = &[];
    for step in list(scenario, "steps") {
        if step.get("request").is_some() {
            out.push((step, before));
        }
        before = step["store_after"].as_array().unwrap();
    }
    out
}

/// The record text and the store's key for `sid` in a snapshot, if present.
fn stored<'a>(snapshot: &'a [Value], store: &str, sid: &str) -> Option<&'a Value> {
    snapshot.iter().find(|r| match store {
        "redis" => r["key"] == redis_key(sid).as_str(),
        _ => r["sid"] == sid,
    })
}

fn record_text<'a>(entry: &'a Value, store: &str) -> &'a str {
    match store {
        "redis" => entry["value"].as_str().unwrap(),
        _ => entry["sess"].as_str().unwrap(),
    }
}

fn connect_sid(set_cookie: &[Value]) -> Option<String> {
    set_cookie.iter().find_map(|h| {
        let h = h.as_str().unwrap();
        let first = h.split(';').next().unwrap();
        find_cookie(first, DEFAULT_COOKIE_NAME)
    })
}

#[test]
fn signatures_match_cookie_signature() {
    let v = vectors();
    let sigs = list(&v, "signatures");
    assert!(sigs.len() >= 40);
    let (mut plus, mut slash) = (false, false);
    for case in sigs {
        let sid = case["sid"].as_str().unwrap();
        let secret = case["secret"].as_str().unwrap().to_owned();
        let signer = signer_for(&[secret]);
        let signed = case["signed"].as_str().unwrap();
        assert_eq!(signer.sign(sid), signed, "{case}");
        let value = case["cookie_value"].as_str().unwrap();
        assert_eq!(signer.cookie_value(sid), value, "{case}");
        assert_eq!(
            case["set_cookie"].as_str().unwrap(),
            format!("connect.sid={value}; Path=/; HttpOnly")
        );
        // And back: the cookie as a browser sends it opens to the same sid.
        let found = find_cookie(&format!("connect.sid={value}"), DEFAULT_COOKIE_NAME).unwrap();
        assert_eq!(signer.open(&found), Ok((sid.to_owned(), 0)), "{case}");
        plus |= value.contains("%2B");
        slash |= value.contains("%2F");
    }
    // The vectors exercise the URL-encoding of both characters base64 adds.
    assert!(plus && slash);
}

#[test]
fn unsign_matches_express_session() {
    let v = vectors();
    for case in list(&v, "unsign") {
        let signer = signer_for(&secrets(&case["secrets"]));
        let input = case["input"].as_str().unwrap();
        let got = signer.unsign(input);
        match case["result"].as_str() {
            Some(sid) => {
                let index = case["secret_index"].as_u64().unwrap() as usize;
                assert_eq!(got, Some((sid, index)), "{case}");
            }
            None => assert_eq!(got, None, "{case}"),
        }
    }
}

#[test]
fn cookie_parsing_matches_express_session() {
    let v = vectors();
    for case in list(&v, "cookie_parse") {
        let header = case["header"].as_str().unwrap();
        let want = case["value"].as_str();
        assert_eq!(
            find_cookie(header, DEFAULT_COOKIE_NAME).as_deref(),
            want,
            "{header}"
        );
    }
}

/// Every cookie express-session set opens with the app's secrets to the sid it stored under,
/// and every cookie a request carried opens exactly when express-session accepted it.
#[test]
fn live_cookies_open_as_express_session_opened_them() {
    let v = vectors();
    let mut checked = 0;
    for scenario in list(&v, "scenarios") {
        let store = scenario["store"].as_str().unwrap();
        let signer = signer_for(&secrets(&scenario["options"]["secret"]));
        for step in list(scenario, "steps") {
            let Some(response) = step.get("response") else {
                continue;
            };
            if let Some(value) = connect_sid(response["set_cookie"].as_array().unwrap()) {
                let (sid, index) = signer.open(&value).unwrap();
                assert_eq!(index, 0, "the first secret signs");
                assert_eq!(sid, step["response_sid"].as_str().unwrap());
                let snapshot = step["store_after"].as_array().unwrap();
                assert!(
                    stored(snapshot, store, &sid).is_some(),
                    "{}: a cookie was set for a session the store does not hold",
                    step["note"]
                );
                checked += 1;
            }
        }
        // The lifecycle scenario's requests: express-session served the session exactly when
        // the cookie verifies with our codec and the store held the record.
        if scenario["name"].as_str().unwrap().ends_with("_defaults") {
            for (step, before) in request_steps(scenario) {
                let body = &step["response"]["body"];
                if step["request"]["method"] != "GET" || step["response"]["status"] != 200 {
                    continue;
                }
                let opened = step["request"]["cookie"]
                    .as_str()
                    .and_then(|h| find_cookie(h, DEFAULT_COOKIE_NAME))
                    .and_then(|value| signer.open(&value).ok());
                let served = opened.and_then(|(sid, _)| {
                    let entry = stored(before, store, &sid)?;
                    Some(Record::parse(record_text(entry, store)).unwrap())
                });
                match served {
                    Some(record) => assert_eq!(
                        &Value::Object(record.data().clone()),
                        body,
                        "{}",
                        step["note"]
                    ),
                    None => assert_eq!(body, &serde_json::json!({}), "{}", step["note"]),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} checks");
}

#[test]
fn forged_old_and_unsigned_cookies() {
    let v = vectors();
    let scenario = &list(&v, "scenarios")[0];
    assert_eq!(scenario["name"], "redis_defaults");
    let signer = signer_for(&secrets(&scenario["options"]["secret"]));
    let by_note = |note: &str| {
        list(scenario, "steps")
            .iter()
            .find(|s| s["note"] == note)
            .unwrap()
            .clone()
    };
    let open = |step: &Value| {
        let header = step["request"]["cookie"].as_str().unwrap().to_owned();
        signer.open(&find_cookie(&header, DEFAULT_COOKIE_NAME).unwrap())
    };
    let old = by_note("the same sid signed with the second (old) secret");
    assert_eq!(open(&old).unwrap().1, 1);
    assert!(
        old["response"]["set_cookie"].as_array().unwrap().is_empty(),
        "express-session does not re-sign a cookie signed with an older secret"
    );
    let forged = by_note("the same sid signed with a secret not in the list");
    assert_eq!(open(&forged), Err(Rejection::BadSignature));
    let bare = by_note("the bare sid, unsigned");
    assert_eq!(open(&bare), Err(Rejection::Malformed));
    let raw = by_note("the signed value not URL-encoded");
    assert_eq!(open(&raw).unwrap().1, 0);
    // Two cookies of the same name: the first decides, valid or not.
    let two = by_note("two connect.sid cookies: a forged one first, then the valid one");
    assert_eq!(open(&two), Err(Rejection::BadSignature));
    assert_eq!(two["response"]["body"], serde_json::json!({}));
}

/// Every record connect-redis and connect-pg-simple stored parses, and writes back byte for
/// byte; its data is what the app answered.
#[test]
fn stored_records_round_trip_exactly() {
    let v = vectors();
    let mut records = 0;
    for scenario in list(&v, "scenarios") {
        if scenario["name"].as_str().unwrap().ends_with("_bad_records") {
            continue;
        }
        let store = scenario["store"].as_str().unwrap();
        for step in list(scenario, "steps") {
            for entry in step["store_after"].as_array().unwrap() {
                let text = record_text(entry, store);
                let record = Record::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(record.to_json(), text);
                records += 1;
            }
            if let (Some(sid), Some(body)) = (
                step["response_sid"].as_str(),
                step.get("response").map(|r| &r["body"]),
            ) {
                let entry = stored(step["store_after"].as_array().unwrap(), store, sid).unwrap();
                let record = Record::parse(record_text(entry, store)).unwrap();
                assert_eq!(&Value::Object(record.data().clone()), body);
            }
        }
    }
    assert!(records > 50, "only {records} records");
}

/// connect-redis's TTL and connect-pg-simple's `expire` follow the rules the codecs compute.
#[test]
fn store_expiry_follows_the_recorded_rules() {
    let v = vectors();
    let mut checked = 0;
    for scenario in list(&v, "scenarios") {
        let name = scenario["name"].as_str().unwrap();
        if name.ends_with("_bad_records") {
            continue;
        }
        let store = scenario["store"].as_str().unwrap();
        for (step, before) in request_steps(scenario) {
            let Some(sid) = step["response_sid"].as_str() else {
                continue;
            };
            // Only a record saved on this request (under `rolling`, a Set-Cookie may come with
            // a mere touch, which renews the store's expiry from a newer `expires`).
            let entry = stored(step["store_after"].as_array().unwrap(), store, sid).unwrap();
            if stored(before, store, sid)
                .is_some_and(|old| record_text(old, store) == record_text(entry, store))
            {
                continue;
            }
            let record = Record::parse(record_text(entry, store)).unwrap();
            let meta = record.cookie();
            let at_ms = step["at_ms"].as_i64().unwrap();
            if store == "redis" {
                let ttl = entry["ttl_s"].as_i64().unwrap();
                // express-session computed expires = its now + maxAge; connect-redis's TTL is
                // ceil((expires - now) / 1000) at that same moment.
                let saved_at = match (meta.expires_at_ms(), meta.max_age_ms()) {
                    (Some(expires), Some(max_age)) => expires - max_age,
                    _ => at_ms,
                };
                let rule = redis_ttl_secs(meta, saved_at, DEFAULT_STORE_TTL_SECS).unwrap() as i64;
                // Redis reports whole seconds left when the snapshot ran, a moment later.
                assert!(
                    ttl == rule || ttl == rule - 1,
                    "{name}: ttl {ttl}, rule {rule}"
                );
            } else {
                let expire = entry["expire_unix_s"].as_f64().unwrap() as i64;
                match meta.expires_at_ms() {
                    Some(_) => assert_eq!(
                        expire,
                        pg_expire_unix_secs(meta, at_ms, DEFAULT_STORE_TTL_SECS),
                        "{name}"
                    ),
                    None => {
                        let rule = pg_expire_unix_secs(meta, at_ms, DEFAULT_STORE_TTL_SECS);
                        assert!(
                            expire >= rule && expire <= rule + 1,
                            "{name}: {expire} vs {rule}"
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} checks");
}

/// What the store mode relies on: a touch renews the store's expiry without rewriting the
/// record, `rolling` re-sends the cookie on every response, `destroy` and `regenerate` delete
/// the record, and a signed sid that was never issued is not adopted.
#[test]
fn session_lifecycle_as_recorded() {
    let v = vectors();
    for scenario in list(&v, "scenarios") {
        let name = scenario["name"].as_str().unwrap();
        let store = scenario["store"].as_str().unwrap();
        let steps = request_steps(scenario);
        let find = |note: &str| {
            steps
                .iter()
                .find(|(s, _)| s["note"] == note)
                .map(|(s, before)| (*s, *before))
        };
        if name == format!("{store}_max_age") || name == format!("{store}_rolling") {
            let (touch, before) = find("read only (touch)").unwrap();
            let sid = find("create").unwrap().0["response_sid"]
                .as_str()
                .unwrap()
                .to_owned();
            let old = stored(before, store, &sid).unwrap();
            let new = stored(touch["store_after"].as_array().unwrap(), store, &sid).unwrap();
            assert_eq!(record_text(old, store), record_text(new, store), "{name}");
            match store {
                "redis" => assert!(new["pttl_ms"].as_i64() > old["pttl_ms"].as_i64()),
                _ => assert!(new["expire_unix_s"].as_f64() > old["expire_unix_s"].as_f64()),
            }
            let rolling = name.ends_with("_rolling");
            for (step, _) in &steps {
                let sent = !step["response"]["set_cookie"]
                    .as_array()
                    .unwrap()
                    .is_empty();
                let changed = step["request"]["method"] == "POST";
                assert_eq!(sent, rolling || changed, "{name}: {}", step["note"]);
            }
            // And so, under `rolling`, a stale cookie.expires beside a fresh store expiry is a
            // session Express keeps: the codec's liveness rule serves it.
            let record = Record::parse(record_text(new, store)).unwrap();
            let store_expires_ms = match store {
                "redis" => touch["at_ms"].as_i64().unwrap() + new["pttl_ms"].as_i64().unwrap(),
                _ => (new["expire_unix_s"].as_f64().unwrap() * 1000.0) as i64,
            };
            let later = record.cookie().expires_at_ms().unwrap() + 1;
            if store_expires_ms > later {
                assert!(is_live(record.cookie(), later, Some(store_expires_ms)));
            }
        }
        if name.ends_with("_defaults") {
            let (regen, before) =
                find("regenerate (login pattern): a new sid, the old record deleted").unwrap();
            let after = regen["store_after"].as_array().unwrap();
            assert_eq!(before.len(), 1, "{name}");
            assert_eq!(after.len(), 1, "{name}: the old record is deleted");
            let new_sid = regen["response_sid"].as_str().unwrap();
            assert!(stored(after, store, new_sid).is_some());
            assert!(stored(before, store, new_sid).is_none());

            let (destroy, _) = find("destroy").unwrap();
            assert_eq!(destroy["response"]["status"], 204);
            assert!(destroy["store_after"].as_array().unwrap().is_empty());
            assert!(destroy["response"]["set_cookie"]
                .as_array()
                .unwrap()
                .is_empty());

            let (adopt, _) =
                find("a sid never issued, correctly signed: write (is it adopted?)").unwrap();
            let issued = adopt["response_sid"].as_str().unwrap();
            assert_ne!(issued, "never-issued-sid-000000000000000");
            assert_eq!(issued.len(), 32, "uid-safe: 24 bytes in base64url");

            // A changed cookie.maxAge on a read-only request: the store's expiry moves, the
            // record and the browser's cookie do not.
            let (read, before) = find("a changed cookie.maxAge (60 s) on a read").unwrap();
            assert!(read["response"]["set_cookie"]
                .as_array()
                .unwrap()
                .is_empty());
            let sid = find("no cookie, write: the session is created").unwrap().0["response_sid"]
                .as_str()
                .unwrap()
                .to_owned();
            let old = stored(before, store, &sid).unwrap();
            let new = stored(read["store_after"].as_array().unwrap(), store, &sid).unwrap();
            assert_eq!(record_text(old, store), record_text(new, store));
            if store == "redis" {
                assert_eq!(new["ttl_s"], 60);
            }
            // With a data change it is saved: originalMaxAge and expires in the record.
            let (write, _) = find("a changed cookie.maxAge (120 s) with a data change").unwrap();
            let new = stored(write["store_after"].as_array().unwrap(), store, &sid).unwrap();
            let record = Record::parse(record_text(new, store)).unwrap();
            assert_eq!(record.cookie().max_age_ms(), Some(120_000));
        }
        if name.ends_with("_short_max_age") {
            let (late, _) = find("read with the expired session's cookie").unwrap();
            assert_eq!(late["response"]["body"], serde_json::json!({}));
            assert!(late["store_after"].as_array().unwrap().iter().all(|e| {
                // Redis dropped the key; PostgreSQL keeps the row until pruned but filters it.
                store == "pg"
                    && Record::parse(record_text(e, store))
                        .map(|r| !is_live(r.cookie(), late["at_ms"].as_i64().unwrap(), None))
                        .unwrap_or(false)
            }));
        }
    }
}

/// A record another program wrote: express-session answered 500 (or never answered, or
/// silently dropped keys) where the codec refuses the record with a clear reason.
#[test]
fn malformed_records_are_refused_where_express_session_fails() {
    let v = vectors();
    let mut seen = 0;
    for scenario in list(&v, "scenarios") {
        let name = scenario["name"].as_str().unwrap();
        if !name.ends_with("_bad_records") {
            continue;
        }
        let store = scenario["store"].as_str().unwrap();
        let steps = list(scenario, "steps");
        for write in steps.iter().filter(|s| s.get("write").is_some()) {
            let case = write["case"].as_str().unwrap();
            let text = write["write"]
                .get("value")
                .or_else(|| write["write"].get("sess"))
                .unwrap()
                .as_str()
                .unwrap();
            let parsed = Record::parse(text);
            let get = steps
                .iter()
                .find(|s| s["case"] == case && s.get("request").is_some());
            let express_status = get.map(|g| g["response"]["status"].clone());
            let ours: Result<(), RecordError> = parsed.clone().map(|_| ());
            match case {
                // express-session: 500 (connect-pg-simple deletes what JSON.parse refuses,
                // and PostgreSQL refuses non-JSON text in a json column).
                "not_json" | "json_array" | "no_cookie_member" | "cookie_number"
                | "cookie_string" | "cookie_null" => {
                    assert!(ours.is_err(), "{name}/{case}");
                    if store == "redis" || case != "not_json" {
                        assert_eq!(express_status, Some(Value::from(500)), "{name}/{case}");
                    }
                }
                // express-session never answered (a TypeError thrown while ending the response).
                "original_max_age_string" => {
                    assert_eq!(ours, Err(RecordError::BadCookieMember("originalMaxAge")));
                    let get = get.unwrap();
                    assert!(get["response"]["status"].is_null());
                    assert!(get["response"]["no_response_within_ms"].is_number());
                }
                // express-session loads these, dropping or repairing parts of them; the codec
                // refuses them rather than guess.
                "json_null" | "json_string" | "cookie_array" | "expires_garbage"
                | "expires_number" | "path_number" | "proto_key" | "reserved_keys" => {
                    assert!(ours.is_err(), "{name}/{case}");
                }
                // Well-formed: read as express-session reads them.
                "cookie_empty_object" | "cookie_not_first" => {
                    let record = parsed.unwrap();
                    assert_eq!(record.data()["views"], 1);
                    assert_eq!(express_status, Some(Value::from(200)));
                }
                // express-session served it (and renewed it); the codec's rule does not.
                "expired_cookie_expires" => {
                    let record = parsed.unwrap();
                    let at = write["at_ms"].as_i64().unwrap();
                    let ttl_ms = 86_400_000;
                    assert!(!is_live(record.cookie(), at, Some(at + ttl_ms)));
                    let get = get.unwrap();
                    assert_eq!(get["response"]["status"], 200);
                    assert_eq!(get["response"]["body"]["views"], 1);
                }
                other => panic!("unknown case {other}"),
            }
            seen += 1;
        }
        // express-session's silent key dropping, measured: the record is rewritten without
        // them on a read-only request.
        let proto_get = steps
            .iter()
            .find(|s| s["case"] == "proto_key" && s.get("request").is_some())
            .unwrap();
        let after = record_text(&proto_get["store_after"][0], store);
        assert!(!after.contains("__proto__"), "{name}: {after}");
    }
    assert_eq!(seen, 36);
}
