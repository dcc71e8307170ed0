//! Datagrams end to end: deliberately broken datagram servers (`tests/servers/datagram_variants.py`)
//! run with `check --spawn` semantics each fail exactly the datagram scenarios meant for them, with
//! the cause in the failure; a correct one and the built-in server pass everything; and the
//! reference server's own promises (truncation logged, empty datagram answered, one model).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sockcheck::engine::{Engine, RunOpts};
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::{ReferenceTarget, SpawnOpts, SpawnTarget, Target};
use sockcheck::Transform;

fn variant(name: &str, transport: Transport) -> SpawnTarget {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/datagram_variants.py");
    let placeholder = if transport == Transport::Udp { "{port}" } else { "{path}" };
    let cmd = crate::support::py(format!("python3 {} {name} {placeholder}", script.display()));
    let opts = SpawnOpts { transport: Some(transport), model: Some(Mode::Sequential), ..SpawnOpts::new(cmd) };
    SpawnTarget::new(opts).expect("spawn target")
}

/// Every datagram scenario, each against a fresh target as `check` runs them: failed name -> cause.
fn failures<T: Target>(new_target: impl Fn() -> T + Sync) -> BTreeMap<String, String> {
    let outcomes =
        crate::support::par_map(&sockcheck_scenarios::datagram_catalogue::all(), crate::support::JOBS, |s| {
            let engine = Engine::new(RunOpts { step_timeout: Duration::from_secs(1), ..Default::default() }).unwrap();
            let mut target = new_target();
            let o = engine.check(s, &mut target);
            let _ = target.stop();
            o
        });
    outcomes
        .into_iter()
        .filter(|o| o.failed())
        .map(|o| (o.scenario.clone(), o.failure.as_ref().map_or(String::new(), |f| f.message())))
        .collect()
}

/// `name` fails exactly `expected` (scenario, words of its cause) over both datagram transports.
fn assert_caught(name: &str, expected: &[(&str, &str)]) {
    std::thread::scope(|scope| {
        for t in Transport::DATAGRAM {
            scope.spawn(move || {
                let failed = failures(|| variant(name, t));
                let want: Vec<&str> = expected.iter().map(|(s, _)| *s).collect();
                let got: Vec<&str> = failed.keys().map(String::as_str).collect();
                let mut want_sorted = want.clone();
                want_sorted.sort();
                assert_eq!(got, want_sorted, "{name} over {t}: {failed:#?}");
                for (scenario, cause) in expected {
                    assert!(failed[*scenario].contains(cause), "{name} over {t}, {scenario}: {}", failed[*scenario]);
                }
            });
        }
    });
}

#[test]
fn a_correct_datagram_server_passes_everything() {
    assert_caught("correct", &[]);
}

#[test]
fn the_built_in_datagram_server_passes_everything() {
    for t in Transport::DATAGRAM {
        let failed = failures(|| ReferenceTarget::new(t, Mode::Sequential, Transform::Upper).unwrap());
        assert!(failed.is_empty(), "{t}: {failed:#?}");
    }
}

#[test]
fn recvfrom_1024_is_caught_by_the_cut_replies() {
    assert_caught(
        "recv1024",
        &[
            ("datagrams_keep_their_boundaries_and_sizes", "the reply was cut: 1024 of 8193 bytes"),
            ("largest_udp_payload_comes_back_whole", "the reply was cut: 1024 of 65507 bytes"),
            ("every_byte_value_survives_a_datagram", "the reply was cut: 1024 of 4096 bytes"),
        ],
    );
}

#[test]
fn socketservers_8192_is_caught_by_8193_and_65507_bytes() {
    assert_caught(
        "recv8192",
        &[
            ("datagrams_keep_their_boundaries_and_sizes", "the reply was cut: 8192 of 8193 bytes"),
            ("largest_udp_payload_comes_back_whole", "the reply was cut: 8192 of 65507 bytes"),
        ],
    );
}

#[test]
fn stopping_at_an_empty_datagram_is_caught() {
    assert_caught(
        "empty-stops",
        &[("empty_datagram_is_answered_and_the_server_goes_on", "no reply within 1.00s to the empty datagram")],
    );
}

#[test]
fn replying_to_a_fixed_address_is_caught() {
    assert_caught(
        "fixed-peer",
        &[
            ("interleaved_clients_get_their_own_replies", "no reply within"),
            ("vanished_client_does_not_break_the_server", "no reply within"),
        ],
    );
}

#[test]
fn answering_only_the_first_five_is_caught_by_the_burst() {
    assert_caught("first-n", &[("burst_of_1000_datagrams_is_answered", "5 of 1000 datagrams answered, 995 lost")]);
}

#[test]
fn a_server_that_never_answers_fails_every_exchange() {
    let all: Vec<(&str, &str)> = sockcheck_scenarios::datagram_catalogue::all()
        .iter()
        .map(|s| Box::leak(s.name().to_string().into_boxed_str()) as &str)
        .filter(|n| !n.starts_with("regular_file") && !n.starts_with("stale_"))
        .map(|n| (n, if n.starts_with("burst") { "no reply to any of the 32 datagrams" } else { "no reply within" }))
        .collect();
    // The socket-file scenarios run over unix-dgram only; the silent server fails the stale one there.
    let failed = failures(|| variant("silent", Transport::Udp));
    let got: Vec<&str> = failed.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    want.sort();
    assert_eq!(got, want, "{failed:#?}");
    for (n, cause) in all {
        assert!(failed[n].contains(cause), "{n}: {}", failed[n]);
    }
}

/// `sockcheck serve ARGS`, its announced endpoint and its stderr lines as they come.
fn serve(args: &[&str]) -> (std::process::Child, String, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockcheck"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        std::io::BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx2.send(l)))
    });
    std::thread::spawn(move || {
        std::io::BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l)))
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).expect("the server announces itself");
    let at = first.strip_prefix("listening on udp://").expect("a udp address").to_string();
    (child, at, rx)
}

#[test]
fn a_datagram_longer_than_bufsize_is_logged_not_echoed_cut_and_an_empty_one_is_answered() {
    let (mut child, at, lines) = serve(&["--udp", "127.0.0.1:0", "--bufsize", "100"]);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&[b'y'; 200], &at).unwrap();
    let log = lines.recv_timeout(Duration::from_secs(5)).expect("a log line");
    assert!(log.contains("longer than the 100-byte buffer (MSG_TRUNC): not answered"), "{log}");
    s.send_to(b"", &at).unwrap();
    let mut buf = [0u8; 300];
    let (n, from) = s.recv_from(&mut buf).expect("an empty reply");
    assert_eq!((n, from.to_string()), (0, at.clone()));
    s.send_to(b"still here", &at).unwrap();
    let (n, _) = s.recv_from(&mut buf).expect("the next reply");
    assert_eq!(&buf[..n], b"STILL HERE");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn concurrent_mode_over_datagrams_is_a_one_line_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_sockcheck"))
        .args(["serve", "--udp", "127.0.0.1:0", "--mode", "concurrent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("sequential is the only model"), "{err}");
}
