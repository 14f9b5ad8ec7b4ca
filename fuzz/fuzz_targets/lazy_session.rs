#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| cookie_session_fuzz::lazy_session(data));
