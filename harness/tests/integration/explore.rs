//! `sockcheck explore` and `explore-client` from the command line: each mutant of
//! `tests/programs/mutants/` (one bug the catalogue once missed) is found, shrunk to a small case
//! with the cause that names its bug, saved, and replayed by `check --replay`; correct programs
//! pass many cases; bad input is a one-line error. Run as a user runs them, `PYTHONUNBUFFERED`
//! unset, one worker and a fixed seed, so that the same cases are played every time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{finish_within, py, BIN};

const PROGRAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// Explore runs longer than other commands: finding, shrinking, and confirming a missing reply
/// with the full wait. This is the backstop, not a figure.
const EXPLORE_DEADLINE: Duration = Duration::from_secs(240);

struct Explored {
    code: Option<i32>,
    report: Value,
    stdout: String,
    stderr: String,
}

impl Explored {
    /// The one failed outcome of the report.
    fn failure(&self) -> &Value {
        let failed: Vec<&Value> =
            self.report["outcomes"].as_array().unwrap().iter().filter(|o| o["result"] == "fail").collect();
        assert_eq!(failed.len(), 1, "one failure: {}\n{}", self.report, self.stderr);
        failed[0]
    }
}

fn require(interpreter: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {interpreter}")]).output();
    if !found.is_ok_and(|o| o.status.success()) {
        panic!("{interpreter} is not installed, so this program cannot be explored: install it (.ci/run does)");
    }
}

/// `sockcheck SUB ARGS --format json --output FILE` in `dir` (where the regressions file goes).
fn explore(dir: &Path, args: &[&str]) -> Explored {
    let out = dir.join("report.json");
    let _ = std::fs::remove_file(&out);
    let child = Command::new(BIN)
        .args(args)
        .args(["--format", "json", "--output"])
        .arg(&out)
        .current_dir(dir)
        .env_remove("PYTHONUNBUFFERED")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = finish_within(child, None, vec![], args, EXPLORE_DEADLINE);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = output.stderr;
    let report = std::fs::read(&out)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("no JSON report from {args:?}:\n{stdout}\n{stderr}"));
    Explored { code: output.status.code(), report, stdout, stderr }
}

/// The shrunk case's steps and payload bytes, from its code: the steps are the DSL calls of its
/// clients, the payload what `send`, `send_datagram` or `type_line` give.
fn steps_and_payload(code: &str) -> (usize, usize) {
    let calls = [
        "connect(",
        "send(",
        "expect_reply(",
        "send_datagram(",
        "expect_datagram_reply(",
        "type_line(",
        "expect_replies(",
        "close(",
        "reset(",
        "half_close(",
        "expect_eof(",
        "wait(",
        "vanish(",
        "end_input(",
        "expect_exit(",
    ];
    let steps = calls.iter().map(|c| code.matches(&format!(".{c}")).count()).sum();
    let mut payload = 0;
    for call in [".send(", ".send_datagram(", ".type_line("] {
        for part in code.split(call).skip(1) {
            payload += if let Some(text) = part.strip_prefix('"') {
                literal_len(text)
            } else if let Some(bytes) = part.strip_prefix("&b\"") {
                literal_len(bytes)
            } else if let Some(n) = part.strip_prefix("pattern(") {
                let n = &n[..n.find(')').unwrap()];
                match n.strip_prefix("1 << ") {
                    Some(shift) => 1 << shift.parse::<u32>().unwrap(),
                    None => n.parse::<usize>().unwrap_or_else(|_| panic!("a pattern's size: {part}")),
                }
            } else {
                panic!("a payload this test does not measure: {call}{part}")
            };
        }
    }
    (steps, payload)
}

#[test]
fn the_shrunk_cases_payload_is_measured_in_every_form_it_is_printed() {
    let code = r#"c.connect().send("a\u{c}\n\"é").send(&b"\x00\xe2\\"[..]).send(pattern(1 << 10)).type_line("\t")"#;
    assert_eq!(steps_and_payload(code), (5, 6 + 3 + 1024 + 1));
}

/// The bytes of a Rust string or byte-string literal as `to_code` prints it (`{:?}` of a `str`,
/// `escape_ascii` of bytes), from just after its opening quote.
fn literal_len(text: &str) -> usize {
    let mut len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        len += match c {
            '"' => return len,
            '\\' => match chars.next().expect("an escape") {
                'x' => {
                    chars.by_ref().take(2).count();
                    1
                }
                'u' => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap().len_utf8()
                }
                _ => 1, // \n \r \t \0 \\ \' \"
            },
            c => c.len_utf8(),
        };
    }
    panic!("an unterminated literal: {text}")
}

/// Explore `command` (a server, or a client with `client`), and check what was found: the cause,
/// a shrunk case of at most `max_steps` steps and `max_payload` bytes sent, saved, and failing
/// again under `check --replay` with the same cause.
fn finds(sub: &str, command: &str, extra: &[&str], cause: &str, max_steps: usize, max_payload: usize) -> String {
    require(command.split_whitespace().next().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let command = py(command);
    let mut args = vec![sub, "--spawn", &command, "--seed", "1", "--jobs", "1", "--timeout", "2"];
    args.extend_from_slice(extra);
    let r = explore(dir.path(), &args);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let failure = r.failure();
    assert_eq!(failure["failure"]["cause"], cause, "{failure:#}");
    let code = failure["code"].as_str().unwrap().to_string();
    let (steps, payload) = steps_and_payload(&code);
    assert!(steps <= max_steps && payload <= max_payload, "shrunk to {steps} steps, {payload} bytes:\n{code}");
    let name = failure["scenario"].as_str().unwrap();
    assert!(code.contains(&format!("new({name:?})")), "{code}");
    assert!(r.stdout.contains("explore: saved to sockcheck-explore.regressions"), "{}", r.stdout);

    // The replay command the report gives fails the same way.
    let repro = failure["repro"].as_str().unwrap();
    assert!(repro.contains("--replay sockcheck-explore.regressions") && repro.contains(name), "{repro}");
    let check = if sub == "explore" { "check" } else { "check-client" };
    let mut again: Vec<&str> = vec![check, "--spawn", &command, "--replay", "sockcheck-explore.regressions"];
    again.extend(extra.iter().filter(|a| a.starts_with("udp") || **a == "--transport"));
    let r = explore(dir.path(), &again);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let replayed = r.failure();
    assert_eq!(replayed["scenario"], name);
    assert_eq!(replayed["failure"]["cause"], cause, "{replayed:#}");

    // The next exploration replays it first, and stops there.
    let mut next = args.clone();
    next.extend(["--cases", "1"]);
    let r = explore(dir.path(), &next);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.failure()["scenario"], name);
    assert!(r.stdout.contains("a saved case still fails"), "{}", r.stdout);
    code
}

#[test]
fn a_server_that_leaves_whitespace_unanswered_is_shrunk_to_one_message_of_whitespace() {
    let code = finds(
        "explore",
        &format!("python3 {PROGRAMS}/mutants/py_blank_server.py {{port}}"),
        &[],
        "whitespace_lost",
        3,
        1,
    );
    assert!(code.contains(r#".client("a", |c| c.connect().send(" ").expect_reply())"#), "{code}");
}

#[test]
fn a_failure_no_rerun_repeats_is_reported_flaky_and_exploring_goes_on_to_one_that_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("answered-once");
    let command = py(format!("python3 {PROGRAMS}/mutants/py_blank_once_wrong_server.py {{port}} {}", marker.display()));
    let r = explore(dir.path(), &["explore", "--spawn", &command, "--seed", "1", "--jobs", "1", "--timeout", "2"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let outcomes = r.report["outcomes"].as_array().unwrap();
    let flaky: Vec<&Value> = outcomes.iter().filter(|o| o["result"] == "flaky").collect();
    assert_eq!(flaky.len(), 1, "{:#}", r.report);
    assert_eq!(flaky[0]["failure"]["cause"], "reply_changed", "{:#}", flaky[0]);
    assert!(flaky[0]["about"].as_str().unwrap().contains("failed 0 of 3 reruns"), "{:#}", flaky[0]);
    // Found after the flaky one: the whitespace bug, shrunk as the plain blank server's is.
    let failure = r.failure();
    assert_eq!(failure["failure"]["cause"], "whitespace_lost", "{failure:#}");
    let (steps, payload) = steps_and_payload(failure["code"].as_str().unwrap());
    assert!(steps <= 3 && payload <= 1, "{failure:#}");
    assert!(r.stdout.contains("failure that no rerun repeated"), "{}", r.stdout);
}

#[test]
fn a_server_that_hangs_up_after_a_command_word_is_shrunk_to_the_word() {
    let code = finds(
        "explore",
        &format!("python3 {PROGRAMS}/mutants/py_exit_server.py {{port}}"),
        &[],
        "closed_without_reply",
        5,
        5,
    );
    let word = ["exit", "quit", "bye"].iter().any(|w| code.to_lowercase().contains(&format!("send(\"{w}\")")));
    assert!(word, "{code}");
}

#[test]
fn a_node_server_that_answers_a_word_itself_is_shrunk_to_the_word() {
    let code = finds(
        "explore",
        &format!("node {PROGRAMS}/mutants/node_help_server.js {{port}}"),
        &[],
        "command_word_answered",
        3,
        4,
    );
    assert!(code.to_lowercase().contains(r#"send("help")"#), "{code}");
}

#[test]
fn a_datagram_server_that_strips_is_shrunk_to_one_datagram_of_whitespace() {
    let code = finds(
        "explore",
        &format!("python3 {PROGRAMS}/mutants/py_udp_strip_server.py {{port}}"),
        &["--transport", "udp"],
        "whitespace_lost",
        2,
        1,
    );
    assert!(code.contains(".datagrams()"), "{code}");
}

#[test]
fn a_client_that_collapses_inner_whitespace_is_shrunk_to_a_short_line() {
    let code = finds(
        "explore-client",
        &format!("python3 {PROGRAMS}/mutants/py_collapse_client.py {{port}}"),
        &[],
        "inner_whitespace_changed",
        2,
        5, // e.g. "é  a": four characters, the shrinker does not turn the é into a
    );
    assert!(code.contains("type_line("), "{code}");
}

/// Explore a correct program for `cases` cases: nothing may fail.
fn passes(sub: &str, args: &[&str], cases: u32) {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases.to_string();
    let mut all = vec![sub, "--seed", "7", "--cases", &cases, "--time", "120"];
    all.extend_from_slice(args);
    let r = explore(dir.path(), &all);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let outcomes = r.report["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "{}", r.report);
    assert_eq!(outcomes[0]["about"], format!("{cases} random cases, none failed"), "{}", r.report);
    assert!(!dir.path().join("sockcheck-explore.regressions").exists(), "nothing is saved when nothing failed");
}

#[test]
fn the_built_in_server_passes_a_thousand_cases_in_each_model_and_over_datagrams() {
    passes("explore", &["--transport", "tcp", "--model", "sequential"], 1000);
    passes("explore", &["--transport", "unix", "--model", "concurrent"], 1000);
    passes("explore", &["--transport", "udp"], 1000);
}

#[test]
fn the_tutorial_server_passes_random_cases() {
    require("python3");
    let command = py(format!("python3 {EXAMPLES}/tutorial_server.py {{port}}"));
    passes("explore", &["--spawn", &command, "--jobs", "1"], 150);
}

#[test]
fn the_built_in_and_the_tutorial_client_pass_random_cases() {
    require("python3");
    passes("explore-client", &["--transport", "tcp"], 30);
    let command = py(format!("python3 {EXAMPLES}/tutorial_client.py {{port}}"));
    passes("explore-client", &["--spawn", &command, "--jobs", "1"], 30);
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sockcheck-explore.regressions"), "# saved\nnot json\n").unwrap();
    for (args, says) in [
        (vec!["explore", "--cases", "5"], "sockcheck-explore.regressions:2: not a sockcheck explore case"),
        (vec!["explore", "--cases", "0", "--regressions", "none"], "--cases"),
        (vec!["explore", "--time", "-1", "--regressions", "none"], "negative"),
        (vec!["check", "--replay", "missing.regressions"], "cannot read missing.regressions"),
        (vec!["check-client", "--replay", "sockcheck-explore.regressions"], "not a sockcheck explore case"),
    ] {
        let out = Command::new(BIN).args(&args).current_dir(dir.path()).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
