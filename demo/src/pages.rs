//! The HTML pages: home, log in, log out, and "inside my session".

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine as _;
use cookie_session::cookie::{cookie_values, utf8_pairs};
use cookie_session::csrf::CSRF_FIELD;
use cookie_session::flash::FlashMessage;
use cookie_session::format::{Cipher, Format};
use cookie_session::{Rejection, Session};
use serde::Deserialize;

use crate::html::{escape_html, fmt_utc, hex_dump, page, printable};
use crate::AppState;

/// "Remember me": a 30-day cookie.
pub const REMEMBER_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The longest accepted name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// Session keys used by the pages.
const VIEWS: &str = "views";
const USER: &str = "user";
const REMEMBER: &str = "remember";

/// Takes the one-time messages out of the session (the library's flash messages), as one
/// line of text.
fn take_flash(session: &Session) -> Option<String> {
    let messages = session.take_flashes::<FlashMessage>();
    if messages.is_empty() {
        return None;
    }
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    Some(texts.join(" "))
}

/// A "remember me" session gets 30 days from now each time it is written again: the library
/// keeps the 30 days chosen at login on its own (`Session::set_max_age`); this makes them
/// slide from the last visit.
fn keep_remembered(session: &Session) {
    if session.get::<bool>(REMEMBER) == Some(true) {
        session.set_max_age(Some(REMEMBER_FOR));
    }
}

fn logout_form(token: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"/logout\">\
<input type=\"hidden\" name=\"{field}\" value=\"{token}\">\
<button id=\"logout\" type=\"submit\">Log out</button></form>",
        field = CSRF_FIELD,
        token = escape_html(token),
    )
}

/// `GET /`: the visit counter and who is logged in.
pub(crate) async fn home(session: Session) -> Html<String> {
    let flash = take_flash(&session);
    let views = session.get::<u64>(VIEWS).unwrap_or(0).saturating_add(1);
    session.insert_value(VIEWS, views.into());
    keep_remembered(&session);

    let who = match session.get::<String>(USER) {
        Some(user) => format!(
            "<p>Logged in as <strong id=\"user\">{}</strong>{}. {}</p>",
            escape_html(&user),
            if session.get::<bool>(REMEMBER) == Some(true) {
                " (remembered for 30 days)"
            } else {
                " (until the browser closes)"
            },
            logout_form(&session.csrf_token()),
        ),
        None => "<p id=\"anonymous\">You are not logged in. <a href=\"/login\">Log in</a> \
                 with any name: no password needed.</p>"
            .to_owned(),
    };
    let body = format!(
        "<p>You have viewed this page <span id=\"counter\" class=\"counter\">{views}</span> \
time{s} in this session.</p>\n{who}\n\
<p class=\"note\">The count lives in the session cookie itself: reload to see it grow, \
then <a href=\"/inside\">look inside the cookie</a>.</p>",
        s = if views == 1 { "" } else { "s" },
    );
    Html(page("Home", flash.as_deref(), &body))
}

fn login_page(session: &Session, flash: Option<&str>, error: Option<&str>, name: &str) -> String {
    let error = error
        .map(|e| format!("<p id=\"error\" class=\"error\">{}</p>\n", escape_html(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form id=\"login-form\" method=\"post\" action=\"/login\">\n\
<input type=\"hidden\" name=\"{field}\" value=\"{token}\">\n\
<label>Your name <input name=\"name\" value=\"{name}\" required maxlength=\"{MAX_NAME_CHARS}\" autofocus></label>\n\
<label><input type=\"checkbox\" name=\"remember\" value=\"on\"> Remember me for 30 days</label>\n\
<button type=\"submit\">Log in</button>\n</form>\n\
<p class=\"note\">No password: this is a demo of sessions, not of authentication. \
Without \"remember me\" the cookie has no <code>Max-Age</code> and is gone when the browser \
closes; with it, it lasts 30 days.</p>",
        field = CSRF_FIELD,
        token = escape_html(&session.csrf_token()),
        name = escape_html(name),
    );
    page("Log in", flash, &body)
}

/// `GET /login`: the form.
pub(crate) async fn login_form(session: Session) -> Html<String> {
    let flash = take_flash(&session);
    keep_remembered(&session);
    Html(login_page(&session, flash.as_deref(), None, ""))
}

/// The login form's fields. Missing fields are empty, so a forged post without a token gets
/// the 403 page rather than a form error.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    remember: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

/// The answer to a form whose token does not match the session's. The session is untouched.
///
/// Every form carries the session's CSRF token (`cookie_session::csrf`: 32 random bytes, kept
/// in the session, compared in constant time, replaced at login by `Session::regenerate`).
/// It stops another site from posting these forms with the visitor's cookie (which
/// `SameSite=Lax` mostly stops already). It does not stop an attacker who can set cookies for
/// this host — a sibling subdomain can plant its own valid session cookie, token included, and
/// so log the visitor into the attacker's session — nor script running on this origin. Only a
/// `__Host-` cookie name (`SESSION_NAME=__Host-session` with `Secure`) shuts out sibling
/// subdomains.
fn forbidden() -> Response {
    let body = "<p id=\"csrf-error\" class=\"error\">This form did not come from this site, \
or it is out of date: its security token does not match your session. Nothing was changed.</p>\n\
<p><a href=\"/\">Back home</a>, reload the page and try again.</p>";
    (StatusCode::FORBIDDEN, Html(page("Forbidden", None, body))).into_response()
}

/// `POST /login`: sets `user`, and the cookie's lifetime from "remember me".
pub(crate) async fn login(session: Session, Form(form): Form<LoginForm>) -> Response {
    if !session.verify_csrf_token(&form.csrf_token) {
        return forbidden();
    }
    let name = form.name.trim();
    let problem = if name.is_empty() {
        Some("Please enter a name.".to_owned())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!("Please use at most {MAX_NAME_CHARS} characters."))
    } else if name.chars().any(char::is_control) {
        Some("Please use a name without control characters.".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        let html = login_page(&session, None, Some(&problem), name);
        return (StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response();
    }

    // A new identity at every privilege change, against session fixation: with a store the
    // data moves to a fresh id and the old record is deleted; in cookie mode a fresh cookie is
    // sealed. The CSRF token goes with the old identity: the next page makes a new one.
    session.regenerate();
    session.insert_value(USER, name.into());
    // A ticked checkbox is sent (as "on"), an unticked one is not sent at all.
    if form.remember.is_some() {
        session.insert_value(REMEMBER, true.into());
        session.set_max_age(Some(REMEMBER_FOR));
    } else {
        session.remove(REMEMBER);
        session.set_max_age(None);
    }
    flash(
        &session,
        FlashMessage::success(format!("Welcome, {name}! You are logged in.")),
    );
    Redirect::to("/").into_response()
}

/// The logout form's field.
#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /logout`: destroys the session, then leaves a flash in a fresh one.
pub(crate) async fn logout(session: Session, Form(form): Form<LogoutForm>) -> Response {
    if !session.verify_csrf_token(&form.csrf_token) {
        return forbidden();
    }
    session.destroy();
    // Writing after `destroy` starts a new session: its cookie replaces the old one.
    flash(&session, FlashMessage::info("You are logged out."));
    Redirect::to("/").into_response()
}

/// Leaves a message for the next page. A `FlashMessage` is always JSON, so this cannot fail.
fn flash(session: &Session, message: FlashMessage) {
    if let Err(error) = session.flash(message) {
        tracing::error!(%error, "flash message not kept");
    }
}

/// Why a cookie was refused, in words.
fn explain_rejection(rejection: Rejection) -> &'static str {
    match rejection {
        Rejection::Missing => "no cookie",
        Rejection::Malformed => {
            "malformed: the value is not something this server could have written \
             (bad base64, wrong length, version or format)"
        }
        Rejection::UnknownKey => {
            "unknown key: it was sealed with a key that is not in SESSION_KEYS (any more). \
             If the demo runs without SESSION_KEYS, every restart makes a new key, and this is \
             what happens to the old cookies"
        }
        Rejection::BadSignature => {
            "bad signature: it was changed, truncated, made for another cookie name, or sealed \
             with a key this server does not have"
        }
        Rejection::MissingSignature => "missing signature: the .sig cookie did not come with it",
        Rejection::BadPayload => "bad payload: it is authentic, but not a JSON object",
        Rejection::Expired => "expired: its authenticated expiry has passed",
        Rejection::IssuedInFuture => "issued in the future: the server clocks disagree",
        Rejection::TooOld => "too old: the session outlived its absolute lifetime",
        Rejection::Revoked => "revoked",
        _ => "refused",
    }
}

/// Base64 of any common alphabet, with or without padding.
fn base64_any(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// What base64-decoding a cookie value (each `.`-separated part) shows.
fn decoded_parts(value: &str, id: &str) -> String {
    let mut out = String::new();
    let parts: Vec<&str> = value.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let label = if parts.len() > 1 {
            format!("part {} of {}", i + 1, parts.len())
        } else {
            "the value".to_owned()
        };
        match base64_any(part) {
            Some(bytes) => out.push_str(&format!(
                "<p>Base64-decoding {label} gives {} bytes:</p>\n<pre id=\"{id}-{i}\">{}</pre>\n",
                bytes.len(),
                escape_html(&hex_dump(&bytes, 256)),
            )),
            None => out.push_str(&format!(
                "<p>{label} is not base64: <code>{}</code></p>\n",
                escape_html(part)
            )),
        }
    }
    out
}

/// The readable JSON of a signed value (read without checking its tag: the page explains
/// the cookie; the layer has already said whether it is authentic).
fn signed_json(value: &str) -> Option<String> {
    let parts = cookie_session::format::signed::inspect(value)?;
    Some(String::from_utf8_lossy(&parts.json).into_owned())
}

/// What the bytes of an encrypted value are.
fn encrypted_layout(value: &str) -> Option<String> {
    let parts = cookie_session::format::encrypted::inspect(value)?;
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Some(format!(
        "<ul>\n<li>cipher: <code id=\"cipher\">{}</code> (named by the first byte)</li>\n\
<li>key id: <code>{}</code> (names the key, reveals nothing of it)</li>\n\
<li>nonce: <code>{}</code> (random for every cookie)</li>\n\
<li>ciphertext of the times, the JSON and the index of its entries, then the tag: {} \
bytes</li>\n</ul>\n",
        match parts.cipher {
            Cipher::Xaes256Gcm => "XAES-256-GCM",
            _ => "XChaCha20-Poly1305",
        },
        hex(&parts.key_id),
        hex(&parts.nonce),
        parts.sealed_len,
    ))
}

/// `GET /inside`: the cookie as the browser sent it, and what the server makes of it.
/// Read-only: this page never changes the session.
pub(crate) async fn inside(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Html<String> {
    let name = state.cookie_name.as_str();
    let sig_name = format!("{name}.sig");
    let express = matches!(state.format, Format::Express(_));
    // Pair by pair where a header is not UTF-8, as the session layer reads it.
    let cookie_headers: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| utf8_pairs(v.as_bytes()))
        .collect();
    let values: Vec<&str> = cookie_values(cookie_headers.iter().copied(), name).collect();
    let sigs: Vec<&str> = if express {
        cookie_values(cookie_headers.iter().copied(), &sig_name).collect()
    } else {
        Vec::new()
    };

    let data = session.data();
    let decoded = serde_json::to_string_pretty(&data).unwrap_or_else(|_| "{}".to_owned());

    let mut body = String::new();
    body.push_str(&format!(
        "<dl>\n<dt>Format</dt><dd id=\"format\">{}</dd>\n<dt>Cookie name</dt><dd><code>{}</code></dd>\n</dl>\n",
        if state.express_session {
            "express-session"
        } else {
            state.format.as_str()
        },
        escape_html(name),
    ));

    body.push_str("<h2>The raw cookie, as your browser sent it</h2>\n");
    let raw: Vec<String> = values
        .iter()
        .map(|v| format!("{name}={v}"))
        .chain(sigs.iter().map(|v| format!("{sig_name}={v}")))
        .collect();
    if raw.is_empty() {
        body.push_str(
            "<pre id=\"raw-cookie\"></pre>\n<p>Your browser sent no session cookie: \
             <a href=\"/\">visit the home page</a> to get one.</p>\n",
        );
    } else {
        body.push_str(&format!(
            "<pre id=\"raw-cookie\">{}</pre>\n",
            escape_html(&raw.join("\n"))
        ));
    }

    body.push_str("<h2>What it decodes to</h2>\n");
    body.push_str(&format!(
        "<pre id=\"decoded\">{}</pre>\n",
        escape_html(&decoded)
    ));
    if session.is_new() {
        body.push_str("<p>A new, empty session: no valid cookie came with this request.</p>\n");
    }

    body.push_str("<h2>Who opened it, and for how long</h2>\n<dl>\n");
    let key = match session.key_index() {
        Some(0) => "key #0, the current key (the first of SESSION_KEYS)".to_owned(),
        Some(i) => {
            format!("key #{i}, an older key: the next response re-issues the cookie under key #0")
        }
        None => "none: there was no valid cookie".to_owned(),
    };
    body.push_str(&format!(
        "<dt>Key</dt><dd id=\"key-index\">{}</dd>\n",
        escape_html(&key)
    ));
    if state.express_session {
        let na = "kept in the store: the record's cookie.expires and the store's own expiry";
        body.push_str(&format!(
            "<dt>Issued at</dt><dd id=\"issued-at\">{na}</dd>\n\
<dt>Expires at</dt><dd id=\"expires-at\">{na}</dd>\n"
        ));
    } else if state.format.has_server_expiry() {
        let date = |t: Option<std::time::SystemTime>| {
            t.map(fmt_utc)
                .unwrap_or_else(|| "none: there was no valid cookie".to_owned())
        };
        body.push_str(&format!(
            "<dt>Issued at</dt><dd id=\"issued-at\">{}</dd>\n\
<dt>Expires at (the server refuses it afterwards, whatever the browser does)</dt><dd id=\"expires-at\">{}</dd>\n\
<dt>Session created at</dt><dd id=\"created-at\">{}</dd>\n",
            date(session.issued_at()),
            date(session.expires_at()),
            date(session.created_at()),
        ));
    } else {
        let na = "not applicable: the express format has no server-side expiry";
        body.push_str(&format!(
            "<dt>Issued at</dt><dd id=\"issued-at\">{na}</dd>\n\
<dt>Expires at</dt><dd id=\"expires-at\">{na}</dd>\n"
        ));
    }
    let rejection = session
        .rejection()
        .map(|r| format!("{}: {}", r.as_str(), explain_rejection(r)))
        .unwrap_or_else(|| "none".to_owned());
    body.push_str(&format!(
        "<dt>Rejection</dt><dd id=\"rejection\">{}</dd>\n</dl>\n",
        escape_html(&rejection)
    ));

    body.push_str("<h2>What the raw value reveals</h2>\n");
    let first = values.first().copied().filter(|v| !v.is_empty());
    match (state.format, first) {
        (_, None) => body.push_str("<p>Nothing yet: there is no cookie.</p>\n"),
        (_, Some(value)) if state.express_session => body.push_str(&format!(
            "<p id=\"explain\">The <strong>express-session</strong> format is Express \
<code>express-session</code>'s: the value is only the session id, signed (<code>s:&lt;id&gt;.&lt;HMAC-SHA256 \
of the id&gt;</code>, URL-encoded). The session itself lives in the store, shared with the Express \
app, and is never in the cookie:</p>\n<pre id=\"readable\">{}</pre>\n",
            escape_html(value)
        )),
        (Format::Encrypted, Some(value)) => {
            body.push_str(
                "<p id=\"explain\">The <strong>encrypted</strong> format seals the session with \
XAES-256-GCM (on CPUs with AES instructions) or XChaCha20-Poly1305: the value reveals nothing of what is inside, and any change to it makes the \
server refuse it. Base64-decoding it gives unreadable bytes (a key id, a random nonce, the \
ciphertext and an authentication tag), not your JSON:</p>\n",
            );
            body.push_str(&decoded_parts(value, "raw-bytes"));
            if let Some(layout) = encrypted_layout(value) {
                body.push_str(&layout);
            }
        }
        (Format::Signed, Some(value)) => {
            body.push_str(
                "<p id=\"explain\">The <strong>signed</strong> format protects the session with \
HMAC-SHA256 but does not hide it: anyone who holds the cookie can read the payload below. The value is \
<code>base64url(body).base64url(tag)</code>: the body is a format byte, a key id, three \
timestamps, then the JSON; the tag is an HMAC of the cookie name and the body. The tag only \
stops anyone from changing it. Use <code>encrypted</code> for anything you would \
not show the visitor.</p>\n",
            );
            if let Some(json) = signed_json(value) {
                body.push_str(&format!(
                    "<p>The readable part:</p>\n<pre id=\"readable\">{}</pre>\n",
                    escape_html(&json)
                ));
            }
            body.push_str(&decoded_parts(value, "raw-bytes"));
        }
        (Format::Express(algorithm), Some(value)) => {
            let text = base64_any(value)
                .map(|bytes| printable_or_utf8(&bytes))
                .unwrap_or_else(|| "(not base64)".to_owned());
            body.push_str(&format!(
                "<p id=\"explain\">The <strong>express</strong> format is Express \
<code>cookie-session</code>'s: the value is the session's JSON in base64, readable by anyone:</p>\n\
<pre id=\"readable\">{}</pre>\n\
<p>The second cookie, <code>{}</code>, is the signature: keygrip's HMAC ({}) of \
<code>{}=&lt;value&gt;</code> under key #0, in base64url. It stops changes, not reading, and \
carries no expiry: an Express cookie stays valid as long as its key is configured.</p>\n\
<pre id=\"sig\">{}</pre>\n",
                escape_html(&text),
                escape_html(&sig_name),
                express_algorithm(algorithm),
                escape_html(name),
                escape_html(sigs.first().copied().unwrap_or("(missing)")),
            ));
        }
        // Formats behind library features (`jwt`): the decoded parts, without commentary.
        (_, Some(value)) => body.push_str(&decoded_parts(value, "raw-bytes")),
    }
    Html(page("Inside my session", None, &body))
}

fn express_algorithm(algorithm: cookie_session::format::SigAlgorithm) -> &'static str {
    match Format::Express(algorithm).as_str() {
        "express-sha256" => "SHA-256",
        "express-sha512" => "SHA-512",
        _ => "SHA-1",
    }
}

fn printable_or_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => printable(bytes),
    }
}

/// Any other path.
pub(crate) async fn not_found() -> Response {
    let body = "<p>There is no such page. <a href=\"/\">Go home</a>.</p>";
    (StatusCode::NOT_FOUND, Html(page("Not found", None, body))).into_response()
}
