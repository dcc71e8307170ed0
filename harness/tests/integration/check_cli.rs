//! `sockcheck check` and `sockcheck list` from the command line: the real binary against the
//! built-in server, against running servers (TCP, Unix, abstract, IPv6), against a wrong one, and
//! with bad input.

use crate::support::{run, Server, T};

fn stdout(r: &crate::support::Run) -> String {
    String::from_utf8_lossy(&r.stdout).into_owned()
}

#[test]
fn check_runs_the_catalogue_against_the_built_in_server() {
    let r = run(&["check", "--filter", "short_message"], b"");
    let out = stdout(&r);
    assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
    // Two transports x two models.
    assert_eq!(out.matches("short_message_is_echoed_upper").count(), 4, "{out}");
    assert!(out.lines().any(|l| l == "4 passed, 0 failed, 0 skipped"), "{out}");
    // Each row names the model its server ran: two sequential, two concurrent.
    for model in ["sequential", "concurrent"] {
        let rows = out.lines().filter(|l| l.starts_with("short_message") && l.split_whitespace().nth(2) == Some(model));
        assert_eq!(rows.count(), 2, "{model}: {out}");
    }
}

per_transport! {
    fn check_passes_a_running_correct_server(t) {
        let server = Server::start(t, &["--mode", "concurrent"]);
        let mut args = vec!["check".to_string()];
        args.extend(server.client_args());
        args.extend(["--model", "concurrent", "--filter", "short_message", "--filter", "concurrent_clients"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, b"");
        let out = stdout(&r);
        assert_eq!(r.code(), Some(0), "{out}");
        assert!(out.lines().any(|l| l == "2 passed, 0 failed, 0 skipped"), "{out}");
    }

    fn check_fails_a_server_that_does_not_uppercase_and_names_the_scenario(t) {
        let server = Server::start(t, &["--transform", "echo"]);
        let mut args = vec!["check".to_string()];
        args.extend(server.client_args());
        args.extend(["--filter", "short_message", "--filter", "utf8"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, b"");
        let out = stdout(&r);
        assert_eq!(r.code(), Some(1), "{out}");
        assert!(out.contains("FAIL short_message_is_echoed_upper"), "{out}");
        assert!(out.contains("wrong reply: first difference at byte 0 of the stream: expected 0x48 'H', got 0x68 'h'"), "{out}");
        assert!(out.lines().any(|l| l == "0 passed, 2 failed, 0 skipped"), "{out}");
    }
}

#[test]
fn check_skips_what_a_running_server_cannot_show_and_says_why() {
    let server = Server::start(T::Tcp, &[]);
    let addr = server.client_args()[1].clone();
    let r = run(&["check", "--tcp", &addr, "--filter", "queued", "--filter", "restarted"], b"");
    let out = stdout(&r);
    assert_eq!(r.code(), Some(0), "{out}");
    assert!(out.contains("needs a sequential server; say --model sequential"), "{out}");
    assert!(out.contains("needs a target sockcheck can stop and start"), "{out}");
    assert!(out.lines().any(|l| l == "0 passed, 0 failed, 2 skipped"), "{out}");
    // With the model named, the queueing scenario runs and passes.
    let r = run(&["check", "--tcp", &addr, "--filter", "queued", "--model", "sequential"], b"");
    assert_eq!(r.code(), Some(0), "{}", stdout(&r));
    assert!(stdout(&r).lines().any(|l| l == "1 passed, 0 failed, 0 skipped"));
}

#[test]
fn check_reaches_an_abstract_unix_socket() {
    let name = format!("@sockcheck-check-{}", std::process::id());
    let _server = Server::start_with(&["--unix", &name], None);
    let r = run(&["check", "--unix", &name, "--filter", "short_message", "--filter", "several"], b"");
    assert_eq!(r.code(), Some(0), "{}", stdout(&r));
    assert!(stdout(&r).lines().any(|l| l == "2 passed, 0 failed, 0 skipped"));
}

/// The whole transport matrix: IPv6 loopback and abstract names are transports like the others
/// (named in every row), and one the machine lacks is left out with the reason.
#[test]
fn the_built_in_server_passes_over_ipv6_and_abstract_names() {
    let filters = ["--filter", "short_message", "--filter", "thousand", "--filter", "short_datagram"];
    let r = run(&[&["check", "--transport", "tcp6,udp6,abstract,abstract-dgram"][..], &filters].concat(), b"");
    let out = stdout(&r);
    assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
    let v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let expect: &[(&str, usize)] = if v6 {
        &[("tcp6", 4), ("udp6", 1), ("abstract", 4), ("abstract-dgram", 1)]
    } else {
        assert!(out.contains("tcp6 left out: this machine has no IPv6 loopback"), "{out}");
        &[("abstract", 4), ("abstract-dgram", 1)]
    };
    for (transport, rows) in expect {
        let n = out.lines().filter(|l| l.split_whitespace().nth(1) == Some(transport)).count();
        assert_eq!(n, *rows, "{transport}: {out}");
    }
    let total: usize = expect.iter().map(|(_, n)| n).sum();
    assert!(out.lines().any(|l| l == format!("{total} passed, 0 failed, 0 skipped")), "{out}");
    // `all` is every transport; the default is the four of the tutorial.
    let all = stdout(&run(&["check", "--transport", "all", "--filter", "short_message", "--model", "sequential"], b""));
    assert!(all.contains(" over tcp, unix, udp, unix-dgram, tcp6") || !v6, "{all}");
    assert!(
        all.contains("abstract") && all.lines().any(|l| l.starts_with("short_message_is_echoed_upper  abstract ")),
        "{all}"
    );
}

/// A spawned program over IPv6 gets `{addr}` as `[::1]:PORT`; an abstract name cannot be handed
/// to a program, which is said in one line.
#[test]
fn spawn_over_tcp6_gets_a_bracketed_address_and_abstract_is_refused() {
    let variants = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/variants.py");
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let cmd = crate::support::py(format!("python3 {variants} correct {{addr}}"));
        let r = run(
            &["check", "--spawn", &cmd, "--transport", "tcp6", "--filter", "short_message", "--filter", "several"],
            b"",
        );
        let out = stdout(&r);
        assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
        assert!(out.contains("[::1]:") && out.contains(" over tcp6"), "{out}");
        assert!(out.lines().any(|l| l == "2 passed, 0 failed, 0 skipped"), "{out}");
    }
    let cmd = crate::support::py(format!("python3 {variants} correct {{path}}"));
    let r = run(&["check", "--spawn", &cmd, "--transport", "abstract"], b"");
    assert_eq!(r.code(), Some(2), "{}", stdout(&r));
    let lines = r.stderr_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("abstract name") && lines[0].contains("--transport unix"), "{lines:?}");
}

#[test]
fn check_rejects_bad_input_with_one_line_and_exit_2() {
    for (args, needle) in [
        (&["check", "--filter", "no-such-scenario"][..], "no scenario matches"),
        (&["check", "--tcp", "::1:80"][..], "brackets"),
        (&["check", "--tcp", "127.0.0.1:99999"][..], "out of range"),
        (&["check", "--model", "parallel"][..], "parallel"),
        (&["check", "--timeout", "0"][..], "seconds"),
        (&["check", "--tcp", "127.0.0.1:1", "--transport", "unix"][..], "cannot be used with"),
        (&["check", "--transport", "sctp"][..], "tcp, unix, udp, unix-dgram, tcp6, udp6, abstract, abstract-dgram"),
    ] {
        let r = run(args, b"");
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        let lines = r.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].contains(needle), "{args:?}: {lines:?}");
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn check_fails_clearly_when_nothing_listens() {
    let port = sockcheck::target::placeholders::free_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let r = run(&["check", "--tcp", &addr, "--filter", "short_message"], b"");
    // One line at once, not a failure per scenario.
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
    assert_eq!(r.stderr_lines(), [format!("sockcheck: error: nothing listens at tcp://{addr}")]);
    assert!(r.stdout.is_empty());
}

#[test]
fn list_names_every_scenario_and_prints_code() {
    let r = run(&["list"], b"");
    assert_eq!(r.code(), Some(0));
    let out = stdout(&r);
    for s in sockcheck::catalogue::all() {
        assert!(out.lines().any(|l| l.starts_with(s.name()) && l.contains(s.description())), "{} missing", s.name());
    }
    let r = run(&["list", "--code", "--filter", "half_close"], b"");
    let out = stdout(&r);
    assert!(out.starts_with("Scenario::new(\"half_close_still_gets_the_whole_reply\")"), "{out}");
    assert!(out.contains(".half_close().expect_reply().expect_eof()"), "{out}");
}
