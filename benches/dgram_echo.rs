//! `dgram-echo ADDR`: the datagram baseline of the benches (a blocking `recv_from` / `send_to`
//! loop, no transform) on `udp://HOST:PORT` (port 0: any) or `unix-dgram:PATH`, for
//! `sockcheck bench --udp | --unix-dgram` beside `sockcheck serve` (`benches/dgram.sh`).
//! Prints `listening on ADDR`, then echoes until killed.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use sockcheck::Endpoint;
use sockcheck_benches::dgram::{echo_loop, StdDgram};

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let endpoint = match Endpoint::parse(&arg) {
        Ok(e) if e.transport().is_datagram() => e,
        Ok(e) => return fail(&format!("{e} is not a datagram address (udp://HOST:PORT or unix-dgram:PATH)")),
        Err(e) => return fail(&format!("usage: dgram-echo udp://HOST:PORT | unix-dgram:PATH ({e})")),
    };
    let sock = match StdDgram::bind(&endpoint) {
        Ok(s) => s,
        Err(e) => return fail(&format!("cannot bind {endpoint}: {e}")),
    };
    let at = sock.local().unwrap_or(endpoint);
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {at}").and_then(|()| out.flush());
    echo_loop(&sock, &AtomicBool::new(false));
    ExitCode::SUCCESS
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("dgram-echo: {msg}");
    ExitCode::from(2)
}
