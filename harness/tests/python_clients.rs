//! `check-client` against spawned Python clients: the tutorial's client fixed
//! (`examples/tutorial_client.py`) passes everything, also when it writes 256 KiB to stderr per line
//! (`tests/clients/variants.py chatty`); each broken variant fails exactly the scenarios meant for it,
//! over TCP and Unix sockets. Needs `python3`.

use std::collections::BTreeSet;

use sockcheck::engine::{check_clients, CheckOpts, ClientCommand, ClientOpts};
use sockcheck::Transport;

/// Run the whole client catalogue against `client` (`examples/tutorial_client.py`, a path relative to
/// `harness/`, or a variant of `tests/clients/variants.py`) and return the failed scenarios.
fn failed_scenarios(client: &str, transport: Transport) -> (BTreeSet<String>, String) {
    let dir = env!("CARGO_MANIFEST_DIR");
    let (script, args) = match client.contains('/') {
        true => (format!("{dir}/{client}"), String::new()),
        false => (format!("{dir}/tests/clients/variants.py"), format!("{client} ")),
    };
    assert!(std::path::Path::new(&script).exists(), "{script} is missing");
    let placeholder = match transport {
        Transport::Tcp => "{port}",
        Transport::Unix => "{path}",
    };
    let cmd = ClientCommand::spawn(&format!("exec python3 '{script}' {args}{placeholder}"));
    let outcomes = check_clients(
        &sockcheck::client_catalogue::all(),
        |_| cmd.clone(),
        &[transport],
        ClientOpts::default(),
        CheckOpts::default(),
        &mut (),
    )
    .expect("runner starts");
    let failed: BTreeSet<String> = outcomes.iter().filter(|o| o.failed()).map(|o| o.scenario.clone()).collect();
    let reports: String = outcomes.iter().filter(|o| o.failed()).map(|o| o.report() + "\n").collect();
    (failed, reports)
}

#[track_caller]
fn assert_fails_exactly(client: &str, transport: Transport, expected: &[&str]) {
    let (failed, reports) = failed_scenarios(client, transport);
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(failed, expected, "{client} over {transport}: wrong set of failed scenarios\n{reports}");
    // Every failure says what went wrong, not only that something did.
    for line in reports.lines().filter(|l| l.starts_with("  client `")) {
        assert!(line.contains(": "), "{line}");
    }
}

macro_rules! per_transport {
    ($($name:ident: $file:literal => [$($scenario:literal),* $(,)?];)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn tcp() {
                assert_fails_exactly($file, Transport::Tcp, &[$($scenario),*]);
            }
            #[test]
            fn unix() {
                assert_fails_exactly($file, Transport::Unix, &[$($scenario),*]);
            }
        }
    )*};
}

per_transport! {
    fixed_tutorial_client_passes_everything: "examples/tutorial_client.py" => [];
    chatty_client_is_not_blocked_by_its_stderr: "chatty" => [];
    client_that_sends_empty_lines_is_caught: "sends-empty" => ["empty_and_blank_lines_are_not_sent"];
    client_that_reads_once_per_reply_is_caught: "one-recv" => [
        "reply_in_small_pieces_is_printed_whole",
        "reply_over_64k_is_printed_whole",
        "utf8_split_across_reads_is_printed_correctly",
    ];
    client_that_spins_after_the_server_closes_is_caught: "spinning" => ["server_close_ends_the_client"];
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
