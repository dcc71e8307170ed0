//! `sockcheck check --udp ADDR | --unix-dgram PATH` against datagram servers that are already
//! running: the reference server (`sockcheck serve --udp`) and Python servers from
//! `tests/servers/datagram_variants.py`. Only datagram scenarios run; those that must restart the
//! server or put files at its path are skipped with the reason.

use std::path::Path;

use crate::support::{run, Server, T};
use sockcheck::scenario::Mode;
use sockcheck::target::{SpawnOpts, SpawnTarget, Target};

fn stdout(r: &crate::support::Run) -> String {
    String::from_utf8_lossy(&r.stdout).into_owned()
}

/// A Python datagram server of `variant`, running (bound) on a free port or a temp path.
fn python_server(variant: &str, t: T) -> SpawnTarget {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/datagram_variants.py");
    let placeholder = if t == T::Udp { "{port}" } else { "{path}" };
    let cmd = crate::support::py(format!("python3 {} {variant} {placeholder}", script.display()));
    let opts = SpawnOpts { transport: Some(t), model: Some(Mode::Sequential), ..SpawnOpts::new(cmd) };
    let mut target = SpawnTarget::new(opts).expect("spawn target");
    target.start().expect("the python server binds");
    target
}

/// `--udp 127.0.0.1:PORT` or `--unix-dgram PATH` for a datagram endpoint.
fn address_args(endpoint: &sockcheck::Endpoint) -> Vec<String> {
    match endpoint {
        sockcheck::Endpoint::Udp(a) => vec!["--udp".into(), a.to_string()],
        sockcheck::Endpoint::UnixDgram(p) => vec!["--unix-dgram".into(), p.display().to_string()],
        other => panic!("not a datagram endpoint: {other}"),
    }
}

fn check(endpoint: &sockcheck::Endpoint, extra: &[&str]) -> crate::support::Run {
    let mut args: Vec<String> = vec!["check".into()];
    args.extend(address_args(endpoint));
    args.extend(["--timeout", "1"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    run(&args.iter().map(String::as_str).collect::<Vec<_>>(), b"")
}

/// The result column of each scenario row: name -> `pass`, `FAIL` or `skip`.
fn verdicts(out: &str) -> std::collections::BTreeMap<String, String> {
    let names: Vec<String> =
        sockcheck_scenarios::datagram_catalogue::all().iter().map(|s| s.name().to_string()).collect();
    out.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            if !names.iter().any(|n| n == name) {
                return None;
            }
            let verdict = l.split_whitespace().find(|w| ["pass", "FAIL", "skip"].contains(w))?;
            Some((name.to_string(), verdict.to_string()))
        })
        .collect()
}

fn datagram_server(t: T) -> Server {
    match t {
        T::Udp => Server::start_with(&["--udp", "127.0.0.1:0"], None),
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("echo.dgram");
            Server::start_with(&["--unix-dgram", path.to_str().unwrap()], Some(dir))
        }
    }
}

#[test]
fn the_running_reference_server_passes_every_datagram_scenario_that_can_run() {
    for t in [T::Udp, T::UnixDgram] {
        let server = datagram_server(t);
        let r = check(&server.endpoint, &[]);
        let out = stdout(&r);
        assert_eq!(r.code(), Some(0), "{t}: {out}\n{}", r.stderr);
        let v = verdicts(&out);
        // Only datagram scenarios; restarting and socket-file ones are skipped with the reason.
        assert!(!out.contains("short_message_is_echoed_upper"), "{out}");
        assert_eq!(v["short_datagram_comes_back_upper"], "pass", "{out}");
        assert_eq!(v["burst_of_1000_datagrams_is_answered"], "pass", "{out}");
        assert_eq!(v["restarted_datagram_server_binds_at_once"], "skip", "{out}");
        assert!(out.contains("needs a target sockcheck can stop and start"), "{out}");
        // Over udp the socket-file scenarios are unix-dgram only; over unix-dgram they need control.
        let total = "10 passed, 0 failed, 3 skipped";
        assert!(out.lines().any(|l| l == total), "{t}: want {total}: {out}");
        assert!(out.contains(&format!("against the server at {}", server.endpoint)), "{out}");
    }
}

#[test]
fn a_running_recvfrom_1024_server_fails_the_cut_replies_with_the_cause() {
    std::thread::scope(|scope| {
        for t in [T::Udp, T::UnixDgram] {
            scope.spawn(move || {
                let server = python_server("recv1024", t);
                let r = check(&server.endpoint(), &[]);
                let out = stdout(&r);
                assert_eq!(r.code(), Some(1), "{t}: {out}\n{}", r.stderr);
                let v = verdicts(&out);
                let failed: Vec<&str> = v.iter().filter(|(_, r)| *r == "FAIL").map(|(n, _)| n.as_str()).collect();
                assert_eq!(
                    failed,
                    [
                        "datagrams_keep_their_boundaries_and_sizes",
                        "every_byte_value_survives_a_datagram",
                        "largest_udp_payload_comes_back_whole"
                    ],
                    "{t}: {out}"
                );
                assert!(out.contains("the reply was cut: 1024 of 8193 bytes came back in one datagram"), "{out}");
                assert!(out.contains("the reply was cut: 1024 of 65507 bytes"), "{out}");
                // The command that runs one alone names the address, not a transport list.
                let flag = if t == T::Udp { "--udp" } else { "--unix-dgram" };
                let repro = format!("run it alone: sockcheck check {flag} ");
                assert!(out.contains(&repro), "{out}");
                assert!(out.contains("--filter largest_udp_payload_comes_back_whole"), "{out}");
            });
        }
    });
}

#[test]
fn a_datagram_address_with_a_stream_filter_is_a_one_line_usage_error() {
    let server = datagram_server(T::Udp);
    let r = check(&server.endpoint, &["--filter", "short_message_is_echoed"]);
    assert_eq!(r.code(), Some(2), "{}", stdout(&r));
    assert_eq!(r.stderr_lines().len(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("over these transports"), "{}", r.stderr);
    // Two addresses at once, or an address and --transport, are refused by the parser.
    let r = run(&["check", "--udp", "127.0.0.1:9", "--tcp", "127.0.0.1:9"], b"");
    assert_eq!((r.code(), r.stderr_lines().len()), (Some(2), 1), "{}", r.stderr);
    let r = run(&["check", "--unix-dgram", "/tmp/x", "--transport", "udp"], b"");
    assert_eq!((r.code(), r.stderr_lines().len()), (Some(2), 1), "{}", r.stderr);
}
