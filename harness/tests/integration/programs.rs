//! Programs written the way documentation examples are (Python's `socketserver`, `socket` and
//! `asyncio` examples, Node's `net` example, perlipc), in `tests/programs/`, each with the verdict a
//! correct tool gives it per scenario in `tests/programs/expected.json` (`EXPECTED.md` explains
//! them): the verdict, and for a failure the cause in the report. Run as a user runs them, with
//! `PYTHONUNBUFFERED` unset. A quick sample runs with every `cargo test`; the whole table with
//! `cargo test -p sockcheck --test integration programs:: -- --ignored`.

use std::process::{Command, Stdio};

use serde_json::Value;

fn expected() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `command` (of `expected.json`) ready to spawn: `{dir}` is `tests/programs`, Python runs as
/// the tests run it. The test fails, saying what to install, when its interpreter is missing.
pub(crate) fn spawnable(command: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs");
    let command = crate::support::py(command.replace("{dir}", dir));
    let interpreter = command.split_whitespace().next().unwrap();
    if Command::new("sh")
        .args(["-c", &format!("command -v {interpreter}")])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        panic!("{interpreter} is not installed, so `{command}` cannot be checked: install it (.ci/run does)");
    }
    command
}

/// `sockcheck ARGS` (with `--format json`) as a user runs it, with `PYTHONUNBUFFERED` unset and
/// no stdin: its JSON report, or why there is none.
pub(crate) fn json_report(args: &[String]) -> Result<Value, String> {
    let out = Command::new(crate::support::BIN)
        .args(args)
        .env_remove("PYTHONUNBUFFERED")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("no JSON report ({e}); stderr: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Check one program of the table against the whole catalogue (or the scenarios named in
/// `only`); every difference from the table, one line each.
fn differences(kind: &str, name: &str, only: &[&str]) -> Vec<String> {
    let table = expected();
    let entry = &table[kind][name];
    let command = spawnable(entry["command"].as_str().unwrap());
    let sub = if kind == "servers" { "check" } else { "check-client" };
    let mut args: Vec<String> =
        [sub, "--spawn", &command, "--format", "json", "--transport"].iter().map(|s| s.to_string()).collect();
    args.push(entry["transport"].as_str().unwrap().to_string());
    if kind == "servers" {
        args.extend(["--transform".into(), entry["transform"].as_str().unwrap().to_string()]);
    }
    for s in only {
        args.extend(["--filter".into(), s.to_string()]);
    }
    let report = match json_report(&args) {
        Ok(v) => v,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut problems = vec![];
    for (scenario, want) in entry["expect"].as_object().unwrap() {
        if !only.is_empty() && !only.iter().any(|f| scenario.contains(f)) {
            continue;
        }
        let got = report["outcomes"].as_array().unwrap().iter().find(|o| o["scenario"] == scenario.as_str());
        let result = got.map_or("absent", |o| o["result"].as_str().unwrap());
        let message = got.and_then(|o| o["failure"]["message"].as_str()).unwrap_or("");
        let cause = got.and_then(|o| o["failure"]["cause"].as_str());
        let skip_reason = got.and_then(|o| o["skip_reason"].as_str()).unwrap_or("");
        let verdict = want["verdict"].as_str().unwrap();
        // A failure is asserted on its typed cause (the JSON report's `failure.cause`), a skip
        // on the words of its reason.
        let ok = match verdict {
            "not_run" => matches!(result, "absent" | "skip"),
            "fail" => result == "fail" && cause == want["cause"].as_str(),
            "skip" => result == "skip" && skip_reason.contains(want["cause"].as_str().unwrap_or("")),
            v => result == v,
        };
        if !ok {
            problems.push(format!(
                "{name} {scenario}: expected {verdict} {}, got {result} {cause:?}: {message}",
                want["cause"]
            ));
        }
    }
    problems
}

#[track_caller]
fn assert_as_expected(kind: &str, name: &str, only: &[&str]) {
    let problems = differences(kind, name, only);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_greeting_server_is_told_it_greets() {
    assert_as_expected("servers", "py_banner_server.py", &["short_message", "empty_recv", "several_messages"]);
}

#[test]
fn a_server_whose_handler_thread_dies_shows_its_traceback() {
    assert_as_expected("servers", "py_thread_dies.py", &["every_byte_value", "short_message"]);
}

#[test]
fn a_server_that_serves_one_client_fails_only_what_needs_a_second() {
    assert_as_expected("servers", "py_docs_echo_once.py", &["short_message", "second_client", "utf8"]);
}

#[test]
fn a_handler_per_request_server_is_not_called_concurrent() {
    assert_as_expected("servers", "py_socketserver_strip.py", &["several_messages", "queued_clients", "utf8"]);
}

#[test]
fn a_print_client_without_flush_passes_on_a_terminal() {
    assert_as_expected("clients", "py_print_client.py", &["line_is_sent", "several_lines"]);
}

#[test]
fn the_tutorials_prompt_client_passes() {
    assert_as_expected("clients", "py_prompt_client.py", &["line_is_sent", "empty_and_blank"]);
}

/// Every program against every scenario, as in the table.
#[test]
#[ignore = "minutes: every documentation-style program against the whole catalogue"]
fn every_documentation_example_gets_its_expected_verdicts() {
    let table = expected();
    let mut problems = vec![];
    for kind in ["servers", "clients"] {
        for name in table[kind].as_object().unwrap().keys() {
            problems.extend(differences(kind, name, &[]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
