//! Cookie plumbing shared by every format: finding a cookie in a request, the attributes and
//! their rules, and rendering `Set-Cookie`. No HTTP types here either: plain strings in and out.

mod attributes;
mod parse;
mod render;

pub use attributes::{
    CookieAttributes, CookieConfigError, Priority, SameSite, MAX_COOKIE_LIFETIME,
};
pub(crate) use parse::utf8;
pub use parse::{cookie_values, first_cookie_value, utf8_pairs};
pub use render::HeaderStyle;
pub(crate) use render::{append_attributes, render_set_cookie, Lifetime, ATTRIBUTES_ROOM};
