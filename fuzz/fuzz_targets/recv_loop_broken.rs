//! `recv_loop` against a deliberately broken loop: it must crash within seconds, which shows the
//! oracle and the input structure can find a short-write bug. Not run by CI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck_fuzz::{serve_dropping_short_write_tail, Conn};

fuzz_target!(|conn: Conn<'_>| {
    let Some(script) = conn.script() else { return };
    if let Err(e) = sockcheck_support::check_echo_with(&script, |s, c| serve_dropping_short_write_tail(s, c)) {
        panic!("{e}\nreplay: {}", script.to_rust());
    }
});
