//! The mutants of `tests/programs/mutants/`: documentation-style programs with one bug each that
//! the catalogue missed before its whitespace, command-word and inner-whitespace scenarios.
//! Each is checked as a user runs it (`PYTHONUNBUFFERED` unset), over the new scenario and the
//! older ones nearest to its bug: exactly the new scenario fails, with the cause that names the
//! bug. The whole catalogue against each is in `expected.json` (`programs::` with `--ignored`).

use serde_json::Value;

use crate::programs::{json_report, spawnable};

/// `sockcheck SUB --spawn COMMAND --format json EXTRA... --filter F...`, with `{dir}` the
/// directory of `tests/programs`: the JSON report.
fn report(sub: &str, command: &str, extra: &[&str], filters: &[&str]) -> Value {
    let mut args: Vec<String> = [sub, "--spawn", &spawnable(command), "--format", "json"].map(String::from).into();
    args.extend(extra.iter().map(|s| s.to_string()));
    for f in filters {
        args.extend(["--filter".into(), f.to_string()]);
    }
    json_report(&args).unwrap_or_else(|e| panic!("{e}"))
}

/// Every scenario filtered for ran and passed, but `scenario`, which failed with `cause`; its
/// failure, for more assertions.
#[track_caller]
fn only_failure(report: &Value, scenario: &str, cause: &str) -> Value {
    let outcomes = report["outcomes"].as_array().unwrap();
    let failed: Vec<_> = outcomes.iter().filter(|o| o["result"] != "pass").collect();
    let names: Vec<_> = failed.iter().map(|o| (&o["scenario"], &o["result"], &o["failure"]["message"])).collect();
    assert_eq!(failed.len(), 1, "exactly one scenario should fail: {names:?}");
    assert_eq!(failed[0]["scenario"], scenario, "{names:?}");
    assert_eq!(failed[0]["result"], "fail", "{names:?}");
    assert_eq!(failed[0]["failure"]["cause"], cause, "{}", failed[0]["failure"]["message"]);
    assert!(outcomes.len() > 1, "the older scenarios ran too: {outcomes:?}");
    failed[0]["failure"].clone()
}

#[test]
fn a_server_that_hangs_up_after_exit_fails_only_the_command_words_scenario() {
    let report = report(
        "check",
        "python3 {dir}/mutants/py_exit_server.py {port}",
        &[],
        &["command_words", "short_message", "several_messages", "second_client", "half_close"],
    );
    let failure = only_failure(&report, "command_words_are_echoed_like_any_text", "closed_without_reply");
    // Step 7 waits for the reply to "Quit", the message after "exit" (steps 1-6: connect, then
    // help and exit with their replies): the close came right after the command word.
    assert_eq!(failure["step_index"], 7, "{failure}");
    assert_eq!(failure["fact"]["got"], 0, "{failure}");
}

#[test]
fn a_server_that_skips_blank_messages_fails_only_the_whitespace_scenario() {
    let report = report(
        "check",
        "python3 {dir}/mutants/py_blank_server.py {port}",
        &[],
        &["message_of_only_whitespace", "short_message", "several_messages", "every_byte_value", "send_of_64k"],
    );
    only_failure(&report, "message_of_only_whitespace_is_echoed", "whitespace_lost");
}

#[test]
fn the_docs_udp_server_that_strips_fails_only_the_datagram_whitespace_scenario() {
    let report = report(
        "check",
        "python3 {dir}/mutants/py_udp_strip_server.py {port}",
        &["--transport", "udp"],
        &["datagram_whitespace", "short_datagram", "datagrams_keep", "every_byte_value_survives", "empty_datagram"],
    );
    let failure = only_failure(&report, "datagram_whitespace_at_both_ends_comes_back", "whitespace_lost");
    assert_eq!(failure["fact"]["got"], 6, "\"PADDED\" came back: {failure}");
}

#[test]
fn a_server_that_answers_help_with_usage_fails_only_the_command_words_scenario() {
    // Not the restart scenario: a Node server's restart races with its dying threads (EXPECTED.md).
    let report = report(
        "check",
        "node {dir}/mutants/node_help_server.js {port}",
        &[],
        &["command_words", "short_message", "several_messages", "utf8_passes", "every_byte_value"],
    );
    only_failure(&report, "command_words_are_echoed_like_any_text", "command_word_answered");
}

#[test]
fn a_client_that_collapses_inner_whitespace_fails_only_the_inner_whitespace_scenario() {
    let report = report(
        "check-client",
        "python3 {dir}/mutants/py_collapse_client.py {port}",
        &[],
        &["inside_a_line", "line_is_sent", "several_lines", "empty_and_blank_lines", "end_of_input"],
    );
    only_failure(&report, "spaces_and_tabs_inside_a_line_are_sent_as_typed", "inner_whitespace_changed");
}

#[test]
fn a_node_client_that_sends_tabs_as_spaces_fails_only_the_inner_whitespace_scenario() {
    let report = report(
        "check-client",
        "node {dir}/mutants/node_tab_client.js {port}",
        &[],
        &["inside_a_line", "line_is_sent", "several_lines", "empty_and_blank_lines", "end_of_input"],
    );
    let failure = only_failure(&report, "spaces_and_tabs_inside_a_line_are_sent_as_typed", "inner_whitespace_changed");
    // The tab of "a\tb" went as a space. What came after it may not have arrived yet when the
    // difference is seen (the client types line by line), so only this much is certain.
    assert_eq!(failure["fact"]["diff"]["got"].as_str().map(|g| g.contains("a b")), Some(true), "{failure}");
}
