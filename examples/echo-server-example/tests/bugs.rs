//! The catalogue catches the bug switch, and the same server passes when served in-process.

use sockcheck::target::placeholders::shell_quote;
use sockcheck::testing::{Mode, Suite};

const EXE: &str = env!("CARGO_BIN_EXE_echo_server");

/// The names of the scenarios that failed, with their reports for the assertion message.
fn failed(suite: Suite) -> (Vec<String>, String) {
    let outcomes = suite.outcomes().expect("the suite runs");
    let failed: Vec<_> = outcomes.iter().filter(|o| o.failed()).collect();
    let reports = failed.iter().map(|o| o.report()).collect::<Vec<_>>().join("\n");
    (failed.iter().map(|o| o.scenario.clone()).collect(), reports)
}

#[test]
fn without_uppercasing_every_scenario_that_expects_a_lowercase_letter_back_fails() {
    let command = format!("ECHO_BUG=no-upper {} {{port}}", shell_quote(EXE));
    let (names, reports) = failed(Suite::spawn(command).model(Mode::Concurrent));
    let expected = [
        "short_message_is_echoed_upper",
        "several_messages_on_one_connection",
        "message_of_only_whitespace_is_echoed",
        "command_words_are_echoed_like_any_text",
        "send_of_64k_comes_back_whole",
        "send_of_1m_comes_back_whole",
        "send_of_16m_comes_back_whole",
        "every_byte_value_is_preserved",
        "utf8_passes_unchanged",
        "second_client_is_served_after_the_first_closes",
        "thousand_short_connections_in_a_row",
        "reset_client_does_not_stop_the_server",
        "client_vanishing_mid_reply_does_not_stop_the_server",
        "half_close_still_gets_the_whole_reply",
        "slow_reader_loses_nothing",
        "concurrent_clients_are_served_at_once",
        "idle_client_does_not_block_others",
        "restarted_server_binds_at_once",
    ];
    assert_eq!(names, expected, "{reports}");
}

#[test]
fn an_unknown_bug_name_is_refused_with_one_line() {
    let out = std::process::Command::new(EXE).arg("0").env("ECHO_BUG", "typo").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "echo-server-example: ECHO_BUG=typo: the bugs are: no-upper\n");
}

#[test]
fn served_in_process_the_correct_server_fails_nothing_and_the_buggy_one_fails() {
    let serve = |bug| {
        Suite::serve(move |listener| {
            listener.set_nonblocking(true)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async { echo_server_example::serve(tokio::net::TcpListener::from_std(listener)?, bug).await })
        })
        .model(Mode::Concurrent)
        .filter("short_message")
        .filter("reset_client")
    };
    let (names, reports) = failed(serve(echo_server_example::Bug::None));
    assert!(names.is_empty(), "{reports}");
    let (names, _) = failed(serve(echo_server_example::Bug::NoUpper));
    assert_eq!(names, ["short_message_is_echoed_upper", "reset_client_does_not_stop_the_server"]);
}
