//! The server's real communication loop (`sockcheck_proto::serve` + `EchoConn`) over a scripted
//! in-memory stream: output == transform(input delivered), no write or queue beyond the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck_fuzz::Conn;

fuzz_target!(|conn: Conn<'_>| {
    let Some(script) = conn.script() else { return };
    if let Err(e) = sockcheck_support::check_echo(&script) {
        panic!("{e}\nreplay: {}", script.to_rust());
    }
});
