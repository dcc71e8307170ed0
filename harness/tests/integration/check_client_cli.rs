//! `sockcheck check-client` from the command line: summary and exit codes, usage errors, and no
//! client left running when sockcheck is interrupted.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{run, wait_until, BIN, DEADLINE};

fn clients_dir() -> String {
    format!("{}/tests/clients", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn built_in_client_passes_over_every_transport() {
    let r = run(&["check-client"], b"");
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
    // 6 stream scenarios over tcp and unix, 6 over all four, 5 datagram ones over udp and unix-dgram.
    assert!(out.contains("17 client scenarios against the built-in client over tcp, unix, udp, unix-dgram"), "{out}");
    assert!(out.contains("46 passed, 0 failed, 0 skipped"), "{out}");
    assert!(out.contains("built-in client"), "{out}");
}

/// On a terminal the built-in client prompts `>>: ` on stdout, as the tutorial's does: the prompt
/// is detected, said in the transcript, and not taken for part of a reply.
#[test]
fn built_in_client_prompt_is_detected_and_reported() {
    let r = run(&["check-client", "--filter", "several_lines", "--transport", "tcp", "--verbose"], b"");
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
    assert!(out.contains(r#"prompt ">>: " detected on stdout, ignored at the start of printed lines"#), "{out}");
    assert!(out.contains("on a terminal (stdin and stdout on a pty)"), "{out}");
    // On pipes it does not prompt.
    let r =
        run(&["check-client", "--filter", "several_lines", "--transport", "tcp", "--verbose", "--stdio", "pipe"], b"");
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
    assert!(out.contains("no prompt: nothing printed without a newline"), "{out}");
}

/// A plain `print()` client without `-u` or `PYTHONUNBUFFERED` passes on the default terminal and,
/// on pipes, fails with the buffering named; the command to run it alone keeps `--stdio pipe`.
#[test]
fn stdio_pipe_shows_a_buffered_print_client_for_what_it_is() {
    let cmd = crate::support::py(format!(
        "exec env -u PYTHONUNBUFFERED python3 {}/variants.py no-flush {{port}}",
        clients_dir()
    ));
    let args = ["check-client", "--spawn", &cmd, "--filter", "line_is_sent", "--timeout", "2"];
    let r = run(&args, b"");
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.code(), Some(0), "{out}\n{}", r.stderr);
    assert!(out.starts_with("sockcheck check-client: 1 client scenarios against"), "{out}");

    let r = run(&[&args[..], &["--stdio", "pipe"]].concat(), b"");
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.code(), Some(1), "{out}\n{}", r.stderr);
    assert!(out.contains("the client's output is held in a buffer"), "{out}");
    assert!(out.contains("fix: flush after printing each reply"), "{out}");
    assert!(out.contains("--filter line_is_sent_and_reply_printed --transport tcp --stdio pipe"), "{out}");
}

#[test]
fn broken_client_fails_with_exit_1_and_a_summary() {
    let cmd = crate::support::py(format!("python3 {}/variants.py one-recv {{path}}", clients_dir()));
    let r = run(&["check-client", "--spawn", &cmd, "--filter", "64k", "--filter", "line_is_sent"], b"");
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.code(), Some(1), "{out}\n{}", r.stderr);
    assert!(out.contains("1 passed, 1 failed, 0 skipped"), "{out}");
    assert!(out.contains("FAIL reply_over_64k_is_printed_whole over unix"), "{out}");
    assert!(out.contains("printed line 1 is wrong (1024 bytes, expected 102400)"), "{out}");
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    for args in [
        &["check-client", "--spawn", "python3 client.py"][..],
        &["check-client", "--spawn", "python3 client.py {prot}"],
        &["check-client", "--spawn", "./c {port} {path}"],
        &["check-client", "--filter", "no_such_scenario"],
        &["check-client", "--timeout", "-1"],
        &["check-client", "--transport", "sctp"],
        &["check-client", "--spawn", "python3 client.py {port}", "--transport", "udp,tcp"],
        &["check-client", "--filter", "server_reset", "--transport", "udp"],
        &["check-client", "--stdio", "tty"],
    ] {
        let r = run(args, b"");
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr_lines().len(), 1, "{args:?}: {}", r.stderr);
    }
}

/// Processes whose environment holds `marker`.
fn marked(marker: &str) -> Vec<i32> {
    let mut pids = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|&b| b == 0).any(|v| v == marker.as_bytes()) {
                pids.push(pid);
            }
        }
    }
    pids
}

#[test]
fn interrupting_sockcheck_stops_the_client_under_test() {
    let marker = format!("SOCKCHECK_TEST_MARK={}", std::process::id());
    let cmd = crate::support::py(format!("{marker} exec python3 {}/variants.py spinning {{port}}", clients_dir()));
    let mut child = Command::new(BIN)
        .args(["check-client", "--spawn", &cmd, "--filter", "server_close"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The spinner runs in its own process group: the terminal's Ctrl-C would not reach it.
    wait_until("the spinning client to start", DEADLINE, || !marked(&marker).is_empty());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    wait_until("sockcheck to exit", DEADLINE, || child.try_wait().unwrap().is_some());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    wait_until("the client to be gone", Duration::from_secs(5), || marked(&marker).is_empty());
}

#[test]
fn json_and_junit_reports_of_a_client_check() {
    let r = run(&["check-client", "--filter", "line_is_sent", "--transport", "unix", "--format", "json"], b"");
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_slice(&r.stdout).expect("stdout is one JSON document");
    assert_eq!(json["passed"], 1, "{json}");
    assert_eq!(json["outcomes"][0]["scenario"], "line_is_sent_and_reply_printed");
    assert_eq!(json["outcomes"][0]["target"], "built-in client");

    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("report.xml");
    let cmd = crate::support::py(format!("python3 {}/variants.py sends-empty {{port}}", clients_dir()));
    let r = run(
        &[
            "check-client",
            "--spawn",
            &cmd,
            "--filter",
            "empty",
            "--format",
            "junit",
            "--output",
            xml_path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 1, "{xml}");
    assert!(cases[0].children().any(|c| c.has_tag_name("failure")), "{xml}");
}

/// A client scenario past its whole deadline fails at its next step with the deadline named; it
/// is not played on. The deadline is zero here, so the first step after the prompt is already late.
#[test]
fn a_client_scenario_past_its_deadline_fails_with_the_deadline_named() {
    use sockcheck::engine::{check_clients, CheckOpts, ClientCommand, ClientOpts};
    use sockcheck::facts::Cause;
    use sockcheck::Transport;

    let t = Transport::Tcp;
    let mut scenario = sockcheck::client_catalogue::all()
        .into_iter()
        .find(|s| s.name() == "end_of_input_exits_zero")
        .expect("in the client catalogue");
    scenario.deadline = Duration::ZERO;
    let cmd = ClientCommand::reference(std::path::Path::new(BIN), t);
    let outcomes =
        check_clients(&[scenario], |_| cmd.clone(), &[t], ClientOpts::default(), CheckOpts::default(), &mut ())
            .expect("runner starts");
    assert_eq!(outcomes.len(), 1);
    let failure = outcomes[0].failure.as_ref().expect("a scenario past its deadline fails");
    assert_eq!(failure.cause, Cause::ScenarioTimeout);
}
