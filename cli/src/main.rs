//! The `cookie-session` command: generate keys, and decode or sign session cookies exactly as
//! a server configured with the same format, name and keys would.
//!
//! A thin binary over the library: reading goes through
//! [`SessionLayer::decode`](cookie_session::SessionLayer::decode) and writing through
//! [`SessionLayer::encode`](cookie_session::SessionLayer::encode), so the command can never
//! disagree with the server.

mod args;
mod decode;
mod error;
mod keygen;
mod keys;
mod output;
mod sign;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return error::clap_exit(e),
    };
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(&a),
        Command::Decode(a) => decode::run(&a),
        Command::Sign(a) => sign::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => e.report(),
    }
}
