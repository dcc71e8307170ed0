//! `sockcheck bench` against the reference server (right) and against servers that are wrong.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sockcheck::net::ListenOpts;
use sockcheck::server::{self, ServerHandle};
use sockcheck::{Endpoint, Mode, ServerConfig};

use crate::support::BIN as EXE;

/// Run `sockcheck bench ARGS`, killing it if it has not finished within 60 s.
fn bench(args: &[&str]) -> Output {
    let child = Command::new(EXE)
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockcheck");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("wait for sockcheck"),
        Err(_) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
            panic!("sockcheck bench {args:?} did not finish within 60 s");
        }
    }
}

fn reference(endpoint: &Endpoint) -> ServerHandle {
    let cfg = ServerConfig { mode: Mode::Concurrent, ..ServerConfig::default() };
    server::spawn(endpoint, &ListenOpts { backlog: 128, ..ListenOpts::default() }, cfg).expect("start reference server")
}

fn tcp_addr(handle: &ServerHandle) -> String {
    match handle.endpoint() {
        Endpoint::Tcp(a) => a.to_string(),
        other => panic!("not tcp: {other}"),
    }
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn reference_server_over_tcp_has_requests_and_no_errors() {
    let srv = reference(&Endpoint::parse_tcp("127.0.0.1:0").unwrap());
    let out = bench(&["--tcp", &tcp_addr(&srv), "--conns", "4", "--size", "3000", "--duration", "0.5", "--json"]);
    assert!(out.status.success(), "exit {:?}, stderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert!(v["requests"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    assert_eq!(v["conns"].as_u64(), Some(4));
    assert!(v["latency_us"]["p50"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["latency_us"]["max"].as_f64().unwrap() >= v["latency_us"]["p99"].as_f64().unwrap(), "{v}");
}

#[test]
fn reference_server_over_unix_with_a_reply_larger_than_socket_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = reference(&Endpoint::Unix(dir.path().join("s.sock")));
    let path = dir.path().join("s.sock");
    let out = bench(&["--unix", path.to_str().unwrap(), "--size", "4000000", "--duration", "0.3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout} stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("errors 0"), "{stdout}");
    assert!(stdout.contains("requests/s") && stdout.contains("p99"), "{stdout}");
    drop(srv);
}

#[test]
fn spawned_target_is_started_loaded_and_stopped() {
    let cmd = format!("exec {EXE} serve --mode concurrent --tcp {{addr}}");
    let out = bench(&["--spawn", &cmd, "--duration", "0.3", "--json"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert!(v["requests"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    // The server is gone: its port refuses connections now.
    let port: u16 = v["target"].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "spawned server still listening");
}

/// A TCP echo server on a thread, replying with `wrong(data)` instead of the uppercase.
fn wrong_server(wrong: fn(&mut [u8])) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            wrong(&mut buf[..n]);
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_server_that_does_not_uppercase_is_reported_with_errors() {
    let addr = wrong_server(|_| {});
    let out = bench(&["--tcp", &addr, "--duration", "0.3", "--json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert!(v["errors"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["requests"].as_u64(), Some(0), "{v}");
    assert!(v["first_error"].as_str().unwrap().contains("wrong reply"), "{v}");
}

#[test]
fn one_corrupted_byte_in_a_large_reply_is_an_error() {
    // Uppercases right but flips one bit at offset 1000 of each read of 4096.
    let addr = wrong_server(|b| {
        b.make_ascii_uppercase();
        if b.len() > 1000 {
            b[1000] ^= 1;
        }
    });
    let out = bench(&["--tcp", &addr, "--size", "100000", "--duration", "0.3"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("requests 0 "), "{stdout}");
    assert!(stdout.contains("first error:") && stdout.contains("wrong reply"), "{stdout}");
}

#[test]
fn echo_transform_accepts_a_plain_echo_server() {
    let addr = wrong_server(|_| {});
    let out = bench(&["--tcp", &addr, "--transform", "echo", "--duration", "0.3", "--json"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["errors"].as_u64(), Some(0));
}

#[test]
fn bad_arguments_exit_2_with_one_clear_line() {
    for args in [
        &["--tcp", "127.0.0.1:1", "--conns", "0"][..],
        &["--tcp", "127.0.0.1:99999"],
        &["--size", "10"],
        &["--tcp", "127.0.0.1:1", "--unix", "/tmp/x"],
        &["--spawn", "true"],
        &["--tcp", "127.0.0.1:1", "--duration", "-1"],
    ] {
        let out = bench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.lines().next().unwrap_or("").contains("error"), "{args:?}: {stderr}");
    }
}

#[test]
fn nothing_listening_is_a_runtime_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = bench(&["--tcp", &format!("127.0.0.1:{port}"), "--duration", "0.2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

/// The reference datagram server on a free port or a temp path.
fn datagram_reference(t: sockcheck::Transport, dir: &std::path::Path) -> ServerHandle {
    let at = sockcheck::net::loopback_endpoint(t, &dir.join("echo.dgram"));
    let cfg =
        ServerConfig { bufsize: server::datagram::DEFAULT_DGRAM_BUFSIZE, log_errors: false, ..ServerConfig::default() };
    server::spawn(&at, &ListenOpts::default(), cfg).expect("start the datagram server")
}

/// `--udp ADDR` or `--unix-dgram PATH`.
fn dgram_args(endpoint: &Endpoint) -> [String; 2] {
    match endpoint {
        Endpoint::Udp(a) => ["--udp".into(), a.to_string()],
        Endpoint::UnixDgram(p) => ["--unix-dgram".into(), p.display().to_string()],
        other => panic!("not a datagram endpoint: {other}"),
    }
}

#[test]
fn datagram_round_trips_against_the_reference_server_lose_nothing() {
    for t in sockcheck::Transport::DATAGRAM {
        let dir = tempfile::tempdir().unwrap();
        let srv = datagram_reference(t, dir.path());
        let [flag, addr] = dgram_args(srv.endpoint());
        let out = bench(&[&flag, &addr, "--conns", "3", "--size", "1000", "--duration", "0.5", "--json"]);
        assert!(out.status.success(), "{t}: {}", String::from_utf8_lossy(&out.stderr));
        let v = json(&out);
        assert!(v["requests"].as_u64().unwrap() > 0, "{v}");
        assert_eq!(
            (v["errors"].as_u64(), v["lost"].as_u64(), v["served_conns"].as_u64()),
            (Some(0), Some(0), Some(3)),
            "{v}"
        );
        assert!(v["latency_us"]["p99"].as_f64().unwrap() > 0.0, "{v}");
        let text = bench(&[&flag, &addr, "--duration", "0.2"]);
        let stdout = String::from_utf8_lossy(&text.stdout);
        assert!(stdout.contains("lost 0 (0.00%)") && stdout.contains("requests/s"), "{stdout}");
    }
}

#[test]
fn datagram_loss_is_counted_not_waited_for() {
    // Through a proxy dropping every 2nd datagram each way: of every 4 datagrams sent, only the
    // 1st gets its reply back (the 2nd and 4th are dropped going, the 3rd's reply coming back).
    let dir = tempfile::tempdir().unwrap();
    let srv = datagram_reference(sockcheck::Transport::Udp, dir.path());
    let faults = sockcheck::proxy::Faults { drop_every: Some(2), ..Default::default() };
    let proxy = sockcheck::proxy::spawn(&Endpoint::parse("udp://127.0.0.1:0").unwrap(), srv.endpoint().clone(), faults)
        .unwrap();
    let [flag, addr] = dgram_args(proxy.endpoint());
    let out = bench(&[&flag, &addr, "--timeout", "0.25", "--duration", "0.8", "--json"]);
    let v = json(&out);
    let (requests, lost) = (v["requests"].as_u64().unwrap(), v["lost"].as_u64().unwrap());
    assert!(requests >= 1 && (3 * requests - 3..=3 * requests).contains(&lost), "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    assert!(v["loss_percent"].as_f64().unwrap() > 50.0, "{v}");
}

#[test]
fn a_datagram_too_long_for_udp_is_a_one_line_usage_error() {
    let out = bench(&["--udp", "127.0.0.1:9", "--size", "65508"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("more than a UDP datagram carries (65507 bytes)"), "{err}");
}

#[test]
fn a_spawned_datagram_server_is_loaded_over_the_transport_named() {
    let cmd = format!("exec {EXE} serve --udp {{addr}}");
    let out = bench(&["--spawn", &cmd, "--transport", "udp", "--duration", "0.3", "--json"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert!(v["target"].as_str().unwrap().starts_with("udp://"), "{v}");
    assert!(v["requests"].as_u64().unwrap() > 0, "{v}");
    assert_eq!((v["errors"].as_u64(), v["lost"].as_u64()), (Some(0), Some(0)), "{v}");
}
