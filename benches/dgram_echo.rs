//! `dgram-echo ADDR`: the datagram baseline of the benches (a blocking `recv_from` / `send_to`
//! loop, no transform) on `udp://HOST:PORT` (port 0: any) or `unix-dgram:PATH`, for
//! `sockcheck bench --udp | --unix-dgram` beside `sockcheck serve` (`benches/dgram.sh`).
//! Prints `listening on ADDR`, then echoes until killed.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use sockcheck::net::{self, ListenOpts};
use sockcheck::Endpoint;
use sockcheck_benches::dgram::echo_loop;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let endpoint = match Endpoint::parse(&arg) {
        Ok(e) if e.transport().is_datagram() => e,
        Ok(e) => return fail(&format!("{e} is not a datagram address (udp://HOST:PORT or unix-dgram:PATH)")),
        Err(e) => return fail(&format!("usage: dgram-echo udp://HOST:PORT | unix-dgram:PATH ({e})")),
    };
    let bound = match net::bind_dgram(&endpoint, &ListenOpts::default()) {
        Ok(b) => b,
        Err(e) => return fail(&e.to_string()),
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {}", bound.endpoint).and_then(|()| out.flush());
    echo_loop(&bound, &AtomicBool::new(false));
    ExitCode::SUCCESS
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("dgram-echo: {msg}");
    ExitCode::from(2)
}
