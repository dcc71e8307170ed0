//! `check-client` against spawned Python clients: the tutorial's client fixed
//! (`examples/tutorial_client.py`, with the tutorial's `input('>>: ')` and `print()`) passes
//! everything, also when it writes 256 KiB to stderr per line (`tests/clients/variants.py chatty`)
//! or prints with a plain `print()` (`no-flush`); each broken variant fails exactly the scenarios
//! meant for it, over TCP and Unix sockets, with the cause said. Needs `python3`.
//!
//! Every client runs without `PYTHONUNBUFFERED` (set where these tests are developed, not on a
//! learner's machine): its stdout is buffered as it is for them.

use std::collections::BTreeSet;

use sockcheck::engine::client::ClientStdio;
use sockcheck::engine::{check_clients, CheckOpts, ClientCommand, ClientOpts};
use sockcheck::facts::Cause;
use sockcheck::report::Outcome;
use sockcheck::Transport;

/// Run the client scenarios whose names contain one of `filter` (all when empty) against
/// `client` (`examples/tutorial_client.py`, a path relative to `harness/`, or a variant of
/// `tests/clients/variants.py`).
fn check(client: &str, transport: Transport, opts: ClientOpts, filter: &[&str]) -> Vec<Outcome> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let (script, args) = match client.contains('/') {
        true => (format!("{dir}/{client}"), String::new()),
        false => (format!("{dir}/tests/clients/variants.py"), format!("{client} ")),
    };
    assert!(std::path::Path::new(&script).exists(), "{script} is missing");
    let placeholder = if transport.is_unix() { "{path}" } else { "{port}" };
    let cmd = ClientCommand::spawn(&crate::support::py(format!(
        "exec env -u PYTHONUNBUFFERED python3 '{script}' {args}{placeholder}"
    )));
    let scenarios: Vec<_> = sockcheck::client_catalogue::all()
        .into_iter()
        .filter(|s| filter.is_empty() || filter.iter().any(|f| s.name().contains(f)))
        .collect();
    assert!(!scenarios.is_empty(), "no scenario matches {filter:?}");
    // Two at a time: each scenario has its own client process and server.
    let run = CheckOpts { jobs: 2, ..CheckOpts::default() };
    check_clients(&scenarios, |_| cmd.clone(), &[transport], opts, run, &mut ()).expect("runner starts")
}

/// The whole client catalogue on a terminal: the failed scenarios, and their reports.
fn failed_scenarios(client: &str, transport: Transport) -> (BTreeSet<String>, String) {
    let outcomes = check(client, transport, ClientOpts::default(), &[]);
    let failed: BTreeSet<String> = outcomes.iter().filter(|o| o.failed()).map(|o| o.scenario.clone()).collect();
    (failed, reports(&outcomes))
}

fn reports(outcomes: &[Outcome]) -> String {
    outcomes.iter().filter(|o| o.failed()).map(|o| o.report() + "\n").collect()
}

/// The reports of the failures, for their causes.
#[track_caller]
fn assert_fails_exactly(client: &str, transport: Transport, expected: &[&str]) -> String {
    let (failed, reports) = failed_scenarios(client, transport);
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(failed, expected, "{client} over {transport}: wrong set of failed scenarios\n{reports}");
    // Every failure says what went wrong, not only that something did.
    for line in reports.lines().filter(|l| l.starts_with("  client `")) {
        assert!(line.contains(": "), "{line}");
    }
    reports
}

/// The one outcome of `outcomes` for `scenario`.
#[track_caller]
fn outcome<'a>(outcomes: &'a [Outcome], scenario: &str) -> &'a Outcome {
    outcomes.iter().find(|o| o.scenario == scenario).unwrap_or_else(|| panic!("no outcome for {scenario}"))
}

/// The failure of a failed outcome in words: its cause, the fact and the fix.
#[track_caller]
fn cause(o: &Outcome) -> String {
    assert!(o.failed(), "{} passed, expected a failure:\n{}", o.scenario, o.report());
    let f = o.failure.as_ref().expect("a failed outcome has a failure");
    format!("{}: {} (fix: {})", f.cause.title(), f.message(), f.cause.fix())
}

/// The note of the transcript's prompt detection.
#[track_caller]
fn prompt_note(o: &Outcome) -> String {
    let e = o.transcript.iter().find(|e| e.step == "(prompt)").unwrap_or_else(|| panic!("{}", o.report()));
    e.fact.to_string()
}

per_transport! {
    fn fixed_tutorial_client_passes_everything(t) {
        assert_fails_exactly("examples/tutorial_client.py", t, &[]);
    }
    fn chatty_client_is_not_blocked_by_its_stderr(t) {
        assert_fails_exactly("chatty", t, &[]);
    }
    // A terminal makes Python's stdout line-buffered: a plain print() is seen at once.
    fn print_client_without_flush_passes_on_a_terminal(t) {
        assert_fails_exactly("no-flush", t, &[]);
    }
    fn client_that_sends_empty_lines_is_caught(t) {
        let reports = assert_fails_exactly("sends-empty", t, &["empty_and_blank_lines_are_not_sent"]);
        assert!(reports.contains("sends nothing") && reports.contains("skip empty lines"), "{reports}");
    }
    fn client_that_reads_once_per_reply_is_caught(t) {
        assert_fails_exactly("one-recv", t, &["reply_in_small_pieces_is_printed_whole", "reply_over_64k_is_printed_whole", "utf8_split_across_reads_is_printed_correctly"]);
    }
    fn client_that_spins_after_the_server_closes_is_caught(t) {
        assert_fails_exactly("spinning", t, &["server_close_ends_the_client"]);
    }
    // The variants connect at start, so only the scenario where nothing listens tells them apart.
    fn client_with_a_traceback_when_nothing_listens_is_caught(t) {
        assert_fails_exactly("connect-traceback", t, &["nothing_listening_ends_the_client"]);
    }
    fn client_that_waits_for_a_server_for_ever_is_caught(t) {
        assert_fails_exactly("waits-for-server", t, &["nothing_listening_ends_the_client"]);
    }
}

/// The spinning client's report shows the CPU it burnt while it should have been exiting.
#[test]
fn spinning_client_report_shows_its_cpu_time() {
    let (_, reports) = failed_scenarios("spinning", Transport::Tcp);
    let line = reports.lines().find(|l| l.contains("did not exit within")).unwrap_or_else(|| panic!("{reports}"));
    let used = line.split("it used ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or_else(|| panic!("{line}"));
    // `1.96s` or `850.0ms`; even a loaded machine gives a spinner more than 0.2 s of 2 s.
    let secs = match used.strip_suffix("ms") {
        Some(ms) => ms.parse::<f64>().unwrap() / 1000.0,
        None => used.trim_end_matches('s').parse::<f64>().unwrap_or(0.0),
    };
    assert!(secs > 0.2, "{line}");
}

/// On pipes a plain print() sits in Python's buffer: the failure says so, instead of "wrong reply"
/// or "printed 0 of 1 lines". At exit the buffer is flushed, so the end-of-input scenario passes.
#[test]
fn print_client_on_a_pipe_is_told_its_output_is_buffered() {
    let opts = ClientOpts {
        stdio: ClientStdio::Pipe,
        step_timeout: std::time::Duration::from_secs(2),
        ..ClientOpts::default()
    };
    let outcomes = check("no-flush", Transport::Tcp, opts, &["line_is_sent", "end_of_input"]);
    let failed = outcome(&outcomes, "line_is_sent_and_reply_printed");
    assert_eq!(failed.failure.as_ref().unwrap().cause, Cause::OutputBuffered, "{}", failed.report());
    let message = cause(failed);
    assert!(message.contains("the server replied 12 bytes"), "{message}");
    assert!(outcome(&outcomes, "end_of_input_exits_zero").passed(), "{}", reports(&outcomes));
}

/// Python's `input('>>: ')` on a terminal writes its prompt to stderr: it is detected and
/// reported there, and stdout holds only the replies.
#[test]
fn tutorial_prompt_is_detected_on_a_terminal() {
    let outcomes = check("examples/tutorial_client.py", Transport::Unix, ClientOpts::default(), &["line_is_sent"]);
    let o = outcome(&outcomes, "line_is_sent_and_reply_printed");
    assert!(o.passed(), "{}", o.report());
    let note = prompt_note(o);
    assert!(note.starts_with(r#"prompt ">>: " detected on stderr"#), "{note}");
}

/// A client that reads its input on another thread than its main one (every JVM program, tokio):
/// every thread is looked at, so it is seen waiting for its first line at once, not after the
/// longest prompt wait.
#[test]
fn a_client_reading_stdin_on_another_thread_is_seen_waiting() {
    let outcomes = check("reader-thread", Transport::Tcp, ClientOpts::default(), &["line_is_sent"]);
    let o = outcome(&outcomes, "line_is_sent_and_reply_printed");
    assert!(o.passed(), "{}", o.report());
    let e = o.transcript.iter().find(|e| e.step == "(prompt)").expect("a prompt step");
    assert!(
        matches!(e.fact, sockcheck::facts::Fact::Prompt { wait: sockcheck::facts::PromptWait::WentQuiet, .. }),
        "{}",
        o.report()
    );
}

/// A client that exits 1 at the end of its input fails the end-of-input scenario, and the failure
/// says which exit code was expected.
#[test]
fn a_client_that_exits_non_zero_at_the_end_of_input_is_told_zero_was_expected() {
    let outcomes = check("exits-1", Transport::Tcp, ClientOpts::default(), &["end_of_input"]);
    let words = cause(outcome(&outcomes, "end_of_input_exits_zero"));
    assert!(words.starts_with("the client exited with the wrong status: exited (status 1) after"), "{words}");
    assert!(words.contains("; expected exit code 0"), "{words}");
}

/// On a pipe, `input()` writes its prompt to stdout and flushes it before it reads: sockcheck sees
/// it there once the client waits for its first line, and accepts it before each reply. A prompt
/// given with `--prompt` is used as it is.
#[test]
fn tutorial_prompt_on_a_pipe_is_detected_on_stdout() {
    let pipe = ClientOpts { stdio: ClientStdio::Pipe, ..ClientOpts::default() };
    let outcomes = check("examples/tutorial_client.py", Transport::Tcp, pipe.clone(), &["line_is_sent"]);
    let o = outcome(&outcomes, "line_is_sent_and_reply_printed");
    assert!(o.passed(), "{}", o.report());
    let note = prompt_note(o);
    assert!(note.starts_with(r#"prompt ">>: " detected on stdout"#), "{note}");

    let given = ClientOpts { prompt: Some(">>: ".into()), ..pipe };
    let outcomes = check("examples/tutorial_client.py", Transport::Tcp, given, &[]);
    assert!(outcomes.iter().all(Outcome::passed), "{}", reports(&outcomes));
}

/// When nothing listens, the tutorial's bare `connect()` dies with a traceback, and a client
/// that retries for ever hangs: each failure names its cause.
#[test]
fn nothing_listening_failures_name_the_traceback_and_the_hang() {
    let filter = ["nothing_listening"];
    let traceback = check("connect-traceback", Transport::Tcp, ClientOpts::default(), &filter);
    let o = outcome(&traceback, "nothing_listening_ends_the_client");
    assert_eq!(o.failure.as_ref().unwrap().cause, Cause::ClientTraceback, "{}", o.report());
    let f = o.failure.as_ref().unwrap();
    assert_eq!(f.error_line.as_deref(), Some("ConnectionRefusedError: [Errno 111] Connection refused"));

    let hang = check("waits-for-server", Transport::Unix, ClientOpts::default(), &filter);
    let o = outcome(&hang, "nothing_listening_ends_the_client");
    assert_eq!(o.failure.as_ref().unwrap().cause, Cause::HangsWhenNothingListens, "{}", o.report());

    let fixed = check("examples/tutorial_client.py", Transport::Unix, ClientOpts::default(), &filter);
    let o = outcome(&fixed, "nothing_listening_ends_the_client");
    assert!(o.passed(), "{}", o.report());
}
