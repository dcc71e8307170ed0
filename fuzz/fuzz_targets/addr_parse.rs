//! Address parsing (`Endpoint::parse`, `parse_tcp`, `parse_unix`): never panics, and what it
//! accepts prints (`Display`) as a string that parses back to the same endpoint.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use sockcheck::Endpoint;

/// `parse_tcp` resolves a host name with getaddrinfo: that is DNS, slow and off this machine, so
/// only IP literals reach it. Mirrors the `HOST:PORT` split in `parse_tcp`.
fn would_resolve_a_name(s: &str) -> bool {
    let s = s.strip_prefix("tcp://").unwrap_or(s);
    match s.rsplit_once(':') {
        Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_err(),
        None => false,
    }
}

fn check(input: &str, parsed: Result<Endpoint, sockcheck::Error>) {
    let Ok(endpoint) = parsed else { return };
    let shown = endpoint.to_string();
    match Endpoint::parse(&shown) {
        Ok(again) => assert_eq!(again, endpoint, "{input:?} -> {shown:?} parses differently"),
        Err(e) => panic!("{input:?} parsed as {endpoint:?}, but its display {shown:?} does not: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(input) = std::str::from_utf8(rest) else { return };
    if input.len() > 4096 {
        return;
    }
    match which % 3 {
        0 if !would_resolve_a_name(input) || input.starts_with(['/', '.', '@']) || input.starts_with("unix:") => {
            check(input, Endpoint::parse(input))
        }
        1 if !would_resolve_a_name(input) => check(input, Endpoint::parse_tcp(input)),
        2 => check(input, Endpoint::parse_unix(input)),
        _ => {}
    }
});
