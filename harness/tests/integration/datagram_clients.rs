//! Datagram clients: `sockcheck client --udp/--unix-dgram` from the command line, and
//! `check-client` over `udp` and `unix-dgram` against the built-in client and the Python clients
//! of `tests/clients/datagram_variants.py` (the tutorial's UDP client done right, and with one
//! thing broken each): the correct ones pass, each broken one fails exactly the scenario meant
//! for it, with its cause, and the one that never times out is failed within the deadline, not
//! waited for. Needs `python3`; run without `PYTHONUNBUFFERED`, as on a learner's machine.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use sockcheck::engine::{check_clients, CheckOpts, ClientCommand, ClientOpts};
use sockcheck::facts::Cause;
use sockcheck::report::Outcome;
use sockcheck::Transport;

use crate::support::run;

fn placeholder(t: Transport) -> &'static str {
    if t == Transport::Udp {
        "{port}"
    } else {
        "{path}"
    }
}

/// The client scenarios that run over `t` whose names contain one of `filter` (all when empty),
/// against `cmd`: failed scenario -> its cause, and every outcome.
fn check(cmd: &str, t: Transport, filter: &[&str]) -> (BTreeMap<String, Cause>, Vec<Outcome>) {
    let cmd = ClientCommand::spawn(cmd);
    let scenarios: Vec<_> = sockcheck::client_catalogue::all()
        .into_iter()
        .filter(|s| s.runs_over(t) && (filter.is_empty() || filter.iter().any(|f| s.name().contains(f))))
        .collect();
    assert!(!scenarios.is_empty(), "no scenario matches {filter:?} over {t}");
    let run = CheckOpts { jobs: 2, ..CheckOpts::default() };
    let outcomes =
        check_clients(&scenarios, |_| cmd.clone(), &[t], ClientOpts::default(), run, &mut ()).expect("runner starts");
    assert_eq!(outcomes.len(), scenarios.len());
    let failed = outcomes
        .iter()
        .filter(|o| o.failed())
        .map(|o| (o.scenario.clone(), o.failure.as_ref().expect("a failure").cause))
        .collect();
    (failed, outcomes)
}

/// A Python variant, with its temp files in `tmp`.
fn variant(name: &str, t: Transport, tmp: &std::path::Path) -> String {
    let script = format!("{}/tests/clients/datagram_variants.py", env!("CARGO_MANIFEST_DIR"));
    crate::support::py(format!(
        "exec env -u PYTHONUNBUFFERED TMPDIR={} python3 {script} {name} {}",
        tmp.display(),
        placeholder(t)
    ))
}

/// `client` fails exactly the scenarios of `expected`, each with its cause.
#[track_caller]
fn assert_caught(client: &str, t: Transport, expected: &[(&str, Cause)]) -> Vec<Outcome> {
    let tmp = tempfile::tempdir().unwrap();
    let (failed, outcomes) = check(&variant(client, t, tmp.path()), t, &[]);
    let got: Vec<&str> = failed.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = expected.iter().map(|(s, _)| *s).collect();
    want.sort();
    assert_eq!(got, want, "{client} over {t}: {failed:#?}");
    for (scenario, cause) in expected {
        let o = outcomes.iter().find(|o| o.scenario == *scenario).expect("an outcome");
        assert_eq!(failed[*scenario], *cause, "{client} over {t}, {scenario}:\n{}", o.report());
    }
    // Stopped by SIGTERM or not, the client removed its socket dir.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "{client} over {t} left {left:?}");
    outcomes
}

per_transport! {
    datagram:
    fn the_correct_python_datagram_client_passes_everything(t) {
        assert_caught("correct", t, &[]);
    }
    fn recvfrom_1024_is_caught_by_the_10000_byte_reply(t) {
        assert_caught("recv1024", t, &[("reply_of_10000_bytes_is_printed_whole", Cause::DatagramCut)]);
    }
    fn a_client_without_a_timeout_is_failed_within_the_deadline_not_waited_for(t) {
        let outcomes = assert_caught("no-timeout", t, &[("lost_reply_does_not_hang_the_client", Cause::NoTimeout)]);
        let o = outcomes.iter().find(|o| o.scenario == "lost_reply_does_not_hang_the_client").unwrap();
        assert!(o.duration < Duration::from_secs(15), "{:?}", o.duration);
    }
    fn taking_any_senders_datagram_is_caught(t) {
        assert_caught("any-sender", t, &[("datagram_from_another_address_is_not_the_reply", Cause::StrangerPrinted)]);
    }
    fn printing_a_duplicated_reply_as_the_next_answer_is_caught(t) {
        assert_caught("stale", t, &[("duplicate_reply_is_not_taken_for_the_next", Cause::DuplicatePrinted)]);
    }
    fn a_long_line_sent_in_pieces_is_caught(t) {
        assert_caught("split-reads", t, &[("reply_of_10000_bytes_is_printed_whole", Cause::LineSplitIntoDatagrams)]);
    }
    fn sending_empty_lines_as_empty_datagrams_is_caught(t) {
        let empty = Cause::EmptyDatagramSent;
        assert_caught("sends-empty", t, &[
            ("empty_and_blank_lines_are_not_sent", empty),
            ("each_line_is_one_datagram", empty),
        ]);
    }
    fn the_built_in_client_passes_and_leaves_no_socket_file(t) {
        let tmp = tempfile::tempdir().unwrap();
        let flag = if t == Transport::Udp { "--udp {addr}" } else { "--unix-dgram {path}" };
        let cmd = format!("exec env TMPDIR={} {} client {flag}", tmp.path().display(), env!("CARGO_BIN_EXE_sockcheck"));
        let (failed, outcomes) = check(&cmd, t, &[]);
        assert!(failed.is_empty(), "{failed:#?}");
        assert_eq!(outcomes.len(), 11);
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// An AF_UNIX datagram client that never binds cannot be answered: the failure says to bind.
#[test]
fn an_unbound_unix_datagram_client_is_told_to_bind() {
    let tmp = tempfile::tempdir().unwrap();
    let (failed, _) =
        check(&variant("unbound", Transport::UnixDgram, tmp.path()), Transport::UnixDgram, &["line_is_sent"]);
    assert_eq!(failed["line_is_sent_and_reply_printed"], Cause::UnboundDatagramClient);
}

/// A UDP echo server on a thread, until its socket's read timeout passes with nothing to do.
fn udp_echo(answer: bool) -> (String, std::thread::JoinHandle<usize>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let at = s.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut seen = 0;
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            seen += 1;
            if answer {
                s.send_to(&buf[..n].to_ascii_uppercase(), from).unwrap();
            }
        }
        seen
    });
    (at, h)
}

#[test]
fn the_udp_client_prints_each_reply_and_exits_zero_at_the_end_of_input() {
    let (at, _server) = udp_echo(true);
    let big = "x".repeat(65_507);
    let input = format!("hello\n\n   \n  two words \n{big}\n");
    let r = run(&["client", "--udp", &at], input.as_bytes());
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let out = String::from_utf8(r.stdout).unwrap();
    assert_eq!(out, format!("HELLO\nTWO WORDS\n{}\n", big.to_uppercase()));
}

#[test]
fn with_nobody_answering_the_client_resends_then_gives_up_in_one_line() {
    let (at, server) = udp_echo(false);
    let started = Instant::now();
    let r = run(&["client", "--udp", &at, "--timeout", "0.2", "--retries", "2"], b"hello\nnever sent\n");
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(r.stderr_lines(), ["sockcheck client: no reply within 0.2s to a line sent 3 times: giving up"]);
    assert!(r.stdout.is_empty());
    drop(r);
    // The line went out three times; the second line never did.
    assert_eq!(server.join().unwrap(), 3);
}

#[test]
fn a_line_longer_than_a_datagram_is_a_one_line_error() {
    let (at, _server) = udp_echo(true);
    let r = run(&["client", "--udp", &at], format!("{}\n", "y".repeat(65_508)).as_bytes());
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    assert_eq!(
        r.stderr_lines(),
        ["sockcheck client: a line of 65508 bytes is longer than a datagram can carry (65507 bytes)"]
    );
}
