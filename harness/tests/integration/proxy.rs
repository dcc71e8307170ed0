//! The fault-injecting proxy (`sockcheck proxy`, `sockcheck::proxy`) between the reference client
//! and the reference server, over TCP and Unix sockets.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use crate::support::{Server, BIN, T};
use sockcheck::engine::{Engine, RunOpts};
use sockcheck::proxy::{self, Faults, ProxyHandle};
use sockcheck::server::{self, ServerHandle};
use sockcheck::target::AddressTarget;
use sockcheck::{Endpoint, Mode, ServerConfig, Transform};

/// A reference server (concurrent) and a proxy in front of it, over `t`.
struct Setup {
    _server: ServerHandle,
    proxy: ProxyHandle,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new(t: T, faults: Faults) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (server_at, proxy_at) = match t {
            T::Tcp => (Endpoint::parse("127.0.0.1:0").unwrap(), Endpoint::parse("127.0.0.1:0").unwrap()),
            T::Unix => (Endpoint::Unix(dir.path().join("server.sock")), Endpoint::Unix(dir.path().join("proxy.sock"))),
            other => panic!("the proxy forwards streams, not {other}"),
        };
        let cfg = ServerConfig { mode: Mode::Concurrent, log_errors: false, ..ServerConfig::default() };
        let server = server::spawn(&server_at, &Default::default(), cfg).unwrap();
        let proxy = proxy::spawn(&proxy_at, server.endpoint().clone(), faults).unwrap();
        Setup { _server: server, proxy, _dir: dir }
    }

    fn client_args(&self) -> Vec<String> {
        match self.proxy.endpoint() {
            Endpoint::Tcp(a) => vec!["client".into(), "--tcp".into(), a.to_string()],
            Endpoint::Unix(p) => vec!["client".into(), "--unix".into(), p.display().to_string()],
            other => unreachable!("the proxy listens on streams, not {other}"),
        }
    }

    fn run_client(&self, input: &[u8]) -> crate::support::Run {
        let args = self.client_args();
        crate::support::run(&args.iter().map(String::as_str).collect::<Vec<_>>(), input)
    }
}

per_transport! {
    fn sliced_and_delayed_replies_are_still_printed_whole(t) {
        let setup = Setup::new(t, Faults::slice(7).with_delay(Duration::from_millis(1)));
        let run = setup.run_client(b"hello, world\nthe quick brown fox jumps over the lazy dog\n\nbye\n");
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        assert_eq!(run.stdout, b"HELLO, WORLD\nTHE QUICK BROWN FOX JUMPS OVER THE LAZY DOG\nBYE\n");
    }

    fn sliced_100k_reply_is_printed_whole(t) {
        // 7-byte pieces, ~14,600 of them each way; no delay, or this test would take half a minute.
        let setup = Setup::new(t, Faults::slice(7));
        let line: Vec<u8> = (0..100 * 1024).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]).collect();
        let mut input = line.clone();
        input.extend_from_slice(b"\nnext\n");
        let run = setup.run_client(&input);
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        let mut expected = line.to_ascii_uppercase();
        expected.extend_from_slice(b"\nNEXT\n");
        assert!(run.stdout == expected, "stdout: {} bytes, expected {}", run.stdout.len(), expected.len());
    }

    fn close_after_ends_the_client_with_one_line(t) {
        let setup = Setup::new(t, Faults { close_after: Some(5), ..Faults::default() });
        let run = setup.run_client(b"hello, world\n");
        assert_eq!(run.code(), Some(1), "{}", run.stderr);
        assert_eq!(run.stderr_lines(), ["sockcheck client: server closed the connection"]);
        assert!(run.stdout.is_empty(), "a partial reply was printed: {:?}", run.stdout);
    }

    fn server_catalogue_passes_through_a_slicing_proxy(t) {
        let setup = Setup::new(t, Faults::slice(7).with_delay(Duration::from_millis(1)));
        let runner = Engine::new(RunOpts::default()).unwrap();
        let mut target =
            AddressTarget { endpoint: setup.proxy.endpoint().clone(), model: None, transform: Transform::Upper };
        for name in ["short_message_is_echoed_upper", "several_messages_on_one_connection", "utf8_passes_unchanged"] {
            let scenario = sockcheck::catalogue::find(name).unwrap();
            let outcome = runner.check(&scenario, &mut target);
            assert!(outcome.passed(), "{}", outcome.report());
        }
    }
}

#[test]
fn reset_after_makes_the_client_exit_with_one_line() {
    let setup = Setup::new(T::Tcp, Faults { reset_after: Some(5), ..Faults::default() });
    let run = setup.run_client(b"hello, world\n");
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr_lines(), ["sockcheck client: server reset the connection"]);
    assert!(run.stdout.is_empty(), "a partial reply was printed: {:?}", run.stdout);
}

/// Exactly the bytes allowed go downstream, then RST (TCP) / EOF (close-after).
#[test]
fn byte_limits_are_exact() {
    for (faults, reset) in [
        (Faults { reset_after: Some(10), ..Faults::default() }, true),
        (Faults { close_after: Some(10), ..Faults::default() }, false),
    ] {
        let setup = Setup::new(T::Tcp, faults);
        let mut c = crate::support::connect(setup.proxy.endpoint());
        c.write_all(b"abcdefghijklmnopqrstuvwxyz").unwrap();
        let mut got = vec![];
        let mut buf = [0u8; 64];
        let end = loop {
            match c.read(&mut buf) {
                Ok(0) => break "eof".to_string(),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break format!("{:?}", e.kind()),
            }
        };
        assert_eq!(got, b"ABCDEFGHIJ");
        assert_eq!(end, if reset { "ConnectionReset" } else { "eof" });
    }
}

#[test]
fn proxy_command_prints_its_address_and_slices() {
    let upstream = Server::start(T::Tcp, &[]);
    let mut cmd = Command::new(BIN);
    cmd.args(["proxy", "--listen", "127.0.0.1:0", "--upstream", &upstream.addr, "--slice", "1", "--delay", "2"]);
    let proxy = Server::start_cmd(cmd, None);
    let mut c = proxy.connect();
    c.write_all(b"hello").unwrap();
    // One byte per piece, 2 ms apart: the first read cannot hold the whole reply.
    let mut buf = [0u8; 16];
    let n = c.read(&mut buf).unwrap();
    assert!((1..5).contains(&n), "first read got {n} bytes");
    let mut reply = buf[..n].to_vec();
    while reply.len() < 5 {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        reply.extend_from_slice(&buf[..n]);
    }
    assert_eq!(reply, b"HELLO");
    assert!(proxy.wait_stderr("forwarding to").contains("slice 1, delay 2ms"));
}

#[test]
fn proxy_rejects_bad_arguments_in_one_line() {
    for args in [
        &["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--slice", "0"][..],
        &["proxy", "--listen", "nonsense", "--upstream", "127.0.0.1:1"],
        &["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--reset-after", "1", "--close-after", "2"],
        &["proxy", "--listen", "127.0.0.1:0"],
    ] {
        let run = crate::support::run(args, b"");
        assert_eq!(run.code(), Some(2), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr_lines().len(), 1, "{args:?}: {}", run.stderr);
    }
}

/// Every catalogue scenario that can run against an address (no restarts, no model) passes through
/// a proxy slicing in 1000-byte pieces: the proxy forwards half-closes, resets and EOFs faithfully.
#[test]
fn whole_catalogue_passes_through_a_slicing_proxy() {
    let setup = Setup::new(T::Tcp, Faults::slice(1000));
    let runner = Engine::new(RunOpts::default()).unwrap();
    let mut target =
        AddressTarget { endpoint: setup.proxy.endpoint().clone(), model: None, transform: Transform::Upper };
    let mut ran = 0;
    for scenario in sockcheck::catalogue::all() {
        let outcome = runner.check(&scenario, &mut target);
        assert!(!outcome.failed(), "{}", outcome.report());
        ran += outcome.passed() as usize;
    }
    assert!(ran >= 10, "only {ran} scenarios ran");
}
