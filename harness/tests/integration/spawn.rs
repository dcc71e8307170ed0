//! `sockcheck check --spawn`: programs in another language (Python here) started, judged and
//! stopped by sockcheck. Each broken server must fail exactly the scenarios meant for it; the
//! correct ones pass everything; nothing is left running.
//!
//! The servers are `examples/*.py` and `tests/servers/variants.py` (the tutorial's server with
//! one thing changed each). python3 must be on the PATH.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockcheck::engine::{self, CheckOpts, Engine, RunOpts, TargetSpec};
use sockcheck::report::Outcome;
use sockcheck::report::{write_report, Format};
use sockcheck::scenario::{Mode, Scenario};
use sockcheck::target::Target;
use sockcheck::target::{probe, SpawnOpts, SpawnTarget};
use sockcheck::Transform;

fn here(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

fn variant(name: &str, placeholder: &str) -> String {
    crate::support::py(format!("python3 {} {name} {placeholder}", here("tests/servers/variants.py")))
}

fn runner() -> Engine {
    // Stalls are expected from the broken servers: a second is plenty for a working one.
    Engine::new(RunOpts { step_timeout: Duration::from_secs(1), ..Default::default() }).expect("runner")
}

fn target(command: &str, model: Option<Mode>) -> SpawnTarget {
    SpawnTarget::new(SpawnOpts { model, ..SpawnOpts::new(command) }).expect("spawn target")
}

/// Run these stream scenarios (all when `only` is empty) as `check --spawn` does: each against a
/// fresh process of `target`'s command on a port or path of its own, as many at once as there are
/// CPUs. Returns every outcome, in catalogue order.
fn run(target: &mut SpawnTarget, only: &[&str]) -> Vec<Outcome> {
    let scenarios: Vec<Scenario> = sockcheck::catalogue::all()
        .into_iter()
        .filter(|s| !s.needs.datagram && (only.is_empty() || only.contains(&s.name())))
        .collect();
    let opts = CheckOpts {
        run: RunOpts { step_timeout: Duration::from_secs(1), ..Default::default() },
        jobs: crate::support::JOBS,
        retries: 0,
    };
    engine::check_servers(&scenarios, TargetSpec::Spawn(target.opts().clone()), opts, &mut ()).expect("check")
}

/// Assert that exactly `must_fail` failed (plus any of `may_fail`), showing the reports otherwise.
fn assert_fails(outcomes: &[Outcome], must_fail: &[&str], may_fail: &[&str]) {
    let failed: BTreeSet<&str> = outcomes.iter().filter(|o| o.failed()).map(|o| o.scenario.as_str()).collect();
    let must: BTreeSet<&str> = must_fail.iter().copied().collect();
    let missed: Vec<_> = must.difference(&failed).collect();
    let extra: Vec<_> = failed.iter().filter(|f| !must.contains(*f) && !may_fail.contains(f)).collect();
    let reports: Vec<String> = outcomes.iter().filter(|o| o.failed()).map(|o| o.report()).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "not caught by {missed:?}; wrongly failed {extra:?}\n{}",
        reports.join("\n")
    );
    let ran = outcomes.iter().filter(|o| o.passed() || o.failed()).count();
    assert!(ran > must_fail.len(), "only {ran} scenarios ran");
}

#[test]
fn the_tutorial_server_passes_everything_over_tcp() {
    let mut t = target(
        &crate::support::py(format!("python3 {} {{port}}", here("examples/tutorial_server.py"))),
        Some(Mode::Sequential),
    );
    let outcomes = run(&mut t, &[]);
    assert_fails(&outcomes, &[], &[]);
    assert_eq!(outcomes.iter().filter(|o| o.passed()).count(), 18, "every TCP scenario for a sequential server");
}

#[test]
fn the_tutorial_server_passes_everything_over_unix() {
    let mut t = target(
        &crate::support::py(format!("python3 {} {{path}}", here("examples/tutorial_server.py"))),
        Some(Mode::Sequential),
    );
    let path = match t.endpoint() {
        sockcheck::Endpoint::Unix(p) => p,
        other => panic!("not a Unix endpoint: {other}"),
    };
    let outcomes = run(&mut t, &[]);
    assert_fails(&outcomes, &[], &[]);
    assert_eq!(outcomes.iter().filter(|o| o.passed()).count(), 20, "every Unix scenario for a sequential server");
    // Started and stopped by this target: its socket file goes with it.
    let short = sockcheck::catalogue::all().into_iter().find(|s| s.name() == "short_message_is_echoed_upper").unwrap();
    assert!(runner().check(&short, &mut t).passed());
    assert!(path.exists(), "the server made its socket file");
    t.stop().expect("stop");
    assert!(!path.exists(), "the socket file was left behind");
}

#[test]
fn the_buggy_example_fails_its_scenarios_over_unix() {
    let mut t = target(
        &crate::support::py(format!("python3 {} {{path}}", here("examples/buggy_server.py"))),
        Some(Mode::Sequential),
    );
    let outcomes = run(&mut t, &[]);
    assert_fails(
        &outcomes,
        &[
            "reset_client_does_not_stop_the_server",
            "client_vanishing_mid_reply_does_not_stop_the_server",
            "regular_file_at_socket_path_is_kept",
        ],
        &[],
    );
    // The crash is reported with the exit status and the traceback's last line.
    let reset = outcomes.iter().find(|o| o.scenario == "reset_client_does_not_stop_the_server").unwrap();
    let msg = &reset.failure.as_ref().unwrap().message();
    assert!(msg.contains("exited (status 1)") && msg.contains("Error"), "{msg}");
}

#[test]
fn reading_once_per_connection_is_caught() {
    let mut t = target(&variant("once", "{port}"), Some(Mode::Sequential));
    let outcomes = run(&mut t, &[]);
    assert_fails(
        &outcomes,
        &[
            "several_messages_on_one_connection",
            "message_of_only_whitespace_is_echoed",
            "command_words_are_echoed_like_any_text",
            "send_of_64k_comes_back_whole",
            "send_of_1m_comes_back_whole",
            "send_of_16m_comes_back_whole",
            "every_byte_value_is_preserved",
            "reset_client_does_not_stop_the_server",
            "client_vanishing_mid_reply_does_not_stop_the_server",
            "half_close_still_gets_the_whole_reply",
            "slow_reader_loses_nothing",
            "queued_clients_are_served_in_arrival_order",
        ],
        &[],
    );
}

#[test]
fn dying_on_a_reset_is_caught() {
    let mut t = target(&variant("dies-on-reset", "{port}"), Some(Mode::Sequential));
    let outcomes = run(&mut t, &[]);
    assert_fails(
        &outcomes,
        &["reset_client_does_not_stop_the_server", "client_vanishing_mid_reply_does_not_stop_the_server"],
        &[],
    );
}

#[test]
fn binding_without_so_reuseaddr_is_caught() {
    let mut t = target(&variant("no-reuseaddr", "{port}"), Some(Mode::Sequential));
    let outcomes = run(&mut t, &[]);
    assert_fails(&outcomes, &["restarted_server_binds_at_once"], &[]);
    let restart = outcomes.iter().find(|o| o.scenario == "restarted_server_binds_at_once").unwrap();
    let msg = &restart.failure.as_ref().unwrap().message();
    assert!(msg.contains("exited (status 1)") && msg.contains("Address already in use"), "{msg}");
}

#[test]
fn a_server_printing_every_message_still_passes() {
    let mut t = target(&variant("chatty", "{port}"), Some(Mode::Sequential));
    let outcomes = run(&mut t, &[]);
    assert_fails(&outcomes, &[], &[]);
    // What one process printed, kept as a bounded tail.
    let several = sockcheck::catalogue::find("several_messages_on_one_connection").unwrap();
    assert!(runner().check(&several, &mut t).passed());
    // What it printed reaches sockcheck's readers a moment after the replies.
    crate::support::wait_until("the server's output on both streams", Duration::from_secs(10), || {
        let (out, err) = t.output_tail();
        out.iter().any(|l| l.starts_with("got ")) && err.iter().any(|l| l.starts_with("echoing "))
    });
    let (stdout, stderr) = t.output_tail();
    assert!(stdout.iter().any(|l| l.starts_with("got ")), "stdout tail: {stdout:?}");
    assert!(stderr.iter().any(|l| l.starts_with("echoing ")), "stderr tail: {stderr:?}");
    assert!(stdout.len() <= 20 && stdout.iter().all(|l| l.len() <= 300), "the tail is bounded");
}

#[test]
fn a_command_that_exits_at_once_fails_fast_with_its_status_and_stderr() {
    let mut t = target("echo 'cannot open config.ini' >&2; exit 7 # {port}", None);
    let started = Instant::now();
    let err = t.start().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(err.contains("exited (status 7)"), "{err}");
    assert!(err.contains("cannot open config.ini"), "{err}");
    assert!(err.contains("before accepting connections"), "{err}");
}

#[test]
fn the_ready_timeout_is_honoured_and_the_program_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let cmd = format!("echo $$ > {}; exec sleep 30 # {{port}}", pidfile.display());
    let opts = SpawnOpts { ready_timeout: Duration::from_millis(400), ..SpawnOpts::new(cmd) };
    let mut t = SpawnTarget::new(opts).unwrap();
    let started = Instant::now();
    let err = t.start().unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "took {took:?}");
    assert!(err.contains("did not accept connections") && err.contains("--ready-timeout"), "{err}");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(!process_running(pid), "the program that never listened is still running");
}

#[test]
fn a_crash_mid_scenario_fails_it_and_the_next_gets_a_fresh_process() {
    let mut t = target(&variant("crash", "{port}"), Some(Mode::Sequential));
    let crash =
        Scenario::new("crashes").client("a", |c| c.connect().send("hello").expect_reply().send("crash").expect_reply());
    let next = sockcheck::catalogue::find("several_messages_on_one_connection").unwrap();
    let runner = runner();
    let first = runner.check(&crash, &mut t);
    assert!(first.failed(), "{}", first.report());
    let msg = &first.failure.as_ref().unwrap().message();
    assert!(msg.contains("exited (status 3)"), "{msg}");
    let second = runner.check(&next, &mut t);
    assert!(second.passed(), "{}", second.report());
    t.stop().unwrap();
}

#[test]
fn the_model_is_detected() {
    let mut seq =
        target(&crate::support::py(format!("python3 {} {{port}}", here("examples/tutorial_server.py"))), None);
    let mut conc = target(&variant("threads", "{path}"), None);
    seq.start().unwrap();
    conc.start().unwrap();
    assert_eq!(probe(&seq.endpoint(), Duration::from_millis(500), Transform::Upper).model, Some(Mode::Sequential));
    assert_eq!(probe(&conc.endpoint(), Duration::from_millis(500), Transform::Upper).model, Some(Mode::Concurrent));
    // The probe leaves the sequential server able to serve.
    let outcomes = run(&mut seq, &["short_message_is_echoed_upper"]);
    assert_fails(&outcomes, &[], &[]);
    conc.set_model(Some(Mode::Concurrent));
    let outcomes = run(&mut conc, &["concurrent_clients_are_served_at_once", "idle_client_does_not_block_others"]);
    assert!(outcomes.iter().all(|o| o.passed()), "{}", outcomes.iter().map(|o| o.report()).collect::<String>());
}

#[test]
fn a_server_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let cmd = format!("echo $$ > {}; exec {}", pidfile.display(), variant("ignores-term", "{port}"));
    let opts = SpawnOpts { grace: Duration::from_millis(300), ..SpawnOpts::new(cmd) };
    let mut t = SpawnTarget::new(opts).unwrap();
    t.start().unwrap();
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let started = Instant::now();
    t.stop().unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "took {took:?}");
    assert!(!process_running(pid), "still running after stop()");
    // A server that does exit on SIGTERM is not kept waiting for the grace period.
    let mut t = target(&variant("correct", "{port}"), None);
    t.start().unwrap();
    let started = Instant::now();
    t.stop().unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

/// Running and not a zombie.
fn process_running(pid: i32) -> bool {
    sockcheck::process::stat(pid).is_some_and(|s| !s.zombie())
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_leaves_no_server_and_no_socket_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let info = dir.path().join("info");
    // The shell writes its pid (which `exec` hands to python) and the socket path.
    let cmd = crate::support::py(format!(
        "echo $$ {{path}} > {}; exec python3 {} {{path}}",
        info.display(),
        here("examples/tutorial_server.py")
    ));
    let mut child = Command::new(crate::support::BIN)
        .args(["check", "--model", "sequential", "--filter", "thousand", "--filter", "slow_reader", "--spawn", &cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = 0;
    let mut path = PathBuf::new();
    wait_for("the server to listen", Duration::from_secs(10), || {
        if let Ok(s) = std::fs::read_to_string(&info) {
            let mut it = s.split_whitespace();
            if let (Some(p), Some(sock)) = (it.next(), it.next()) {
                pid = p.parse().unwrap();
                path = PathBuf::from(sock);
                return path.exists();
            }
        }
        false
    });
    assert!(process_running(pid));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sockcheck did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130));
    wait_for("the server process to go", Duration::from_secs(2), || !process_running(pid));
    assert!(!path.exists(), "the socket file {} was left behind", path.display());
    assert!(!path.parent().unwrap().exists(), "the temp dir was left behind");
}

#[test]
fn json_and_junit_reports_of_a_spawned_server() {
    let mut t = target(
        &crate::support::py(format!("python3 {} {{path}}", here("examples/buggy_server.py"))),
        Some(Mode::Sequential),
    );
    let outcomes = run(
        &mut t,
        &[
            "short_message_is_echoed_upper",
            "reset_client_does_not_stop_the_server",
            "stale_socket_file_is_replaced",
            "idle_client_does_not_block_others",
        ],
    );
    let mut json = vec![];
    write_report(Format::Json, &outcomes, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).expect("the JSON report parses");
    assert_eq!((v["passed"].as_u64(), v["failed"].as_u64(), v["skipped"].as_u64()), (Some(2), Some(1), Some(1)));
    let list = v["outcomes"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    let failed = list.iter().find(|o| o["result"] == "fail").unwrap();
    assert_eq!(failed["scenario"], "reset_client_does_not_stop_the_server");
    assert_eq!(failed["transport"], "unix");
    assert!(failed["failure"]["message"].as_str().unwrap().contains("exited (status 1)"));
    assert!(failed["failure"]["step_index"].as_u64().unwrap() >= 1);
    assert!(!failed["transcript"].as_array().unwrap().is_empty());

    let mut xml = vec![];
    write_report(Format::Junit, &outcomes, &mut xml).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit report is valid XML");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 4);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testsuite")).count(), 1);
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.parent().unwrap().attribute("name"), Some("reset_client_does_not_stop_the_server over unix"));
    assert!(failure.text().unwrap_or("").contains("transcript:"));
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("skipped")).count(), 1);
}

fn sockcheck(args: &[&str]) -> std::process::Output {
    Command::new(crate::support::BIN).args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn check_spawn_on_the_command_line_detects_the_model_and_writes_junit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    let server = crate::support::py(format!("python3 {} {{port}}", here("examples/tutorial_server.py")));
    let out = sockcheck(&[
        "check",
        "--spawn",
        &server,
        "--filter",
        "short_message",
        "--format",
        "junit",
        "--output",
        file.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("(sequential, detected) over tcp"), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed, 0 skipped"), "{stdout}");
    let xml = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let names: Vec<_> =
        doc.descendants().filter(|n| n.has_tag_name("testcase")).filter_map(|n| n.attribute("name")).collect();
    assert_eq!(names, ["short_message_is_echoed_upper over tcp"]);

    // The buggy one fails (exit 1); JSON on stdout alone when there is no --output.
    let buggy = crate::support::py(format!("python3 {} {{port}}", here("examples/buggy_server.py")));
    let out =
        sockcheck(&["check", "--spawn", &buggy, "--model", "sequential", "--filter", "reset", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report alone");
    assert_eq!(v["failed"], 1);
    assert_eq!(v["outcomes"][0]["scenario"], "reset_client_does_not_stop_the_server");
}

#[test]
fn check_spawn_usage_errors_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["check", "--spawn", "./srv {port}", "--tcp", "127.0.0.1:1"],
        &["check", "--spawn", "./srv"],
        &["check", "--spawn", "./srv {prot}"],
        &["check", "--ready-timeout", "3"],
        &["check", "--format", "xml"],
        &["check", "--spawn", "./srv {port}", "--output", "/nonexistent-dir/x.json"],
    ];
    for args in cases {
        let out = sockcheck(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("sockcheck: error: "), "{args:?}: {stderr}");
    }
    // A command that does not start is a runtime failure: exit 1, with its status.
    let out = sockcheck(&["check", "--spawn", "exit 4 # {port}", "--filter", "short"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited (status 4)"));
}

/// The verdicts of every scenario, from a JSON report.
fn verdicts(json: &[u8]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(json).expect("a JSON report");
    v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["scenario"].as_str().unwrap().to_string(), o["result"].as_str().unwrap().to_string()))
        .collect()
}

/// Each scenario gets a fresh process on a fresh port, so one failure does not cascade: a server
/// without SO_REUSEADDR fails the restart scenario only, and every scenario's verdict alone
/// (`--filter NAME`) is its verdict in the whole catalogue, for correct and broken servers.
#[test]
fn verdicts_alone_equal_verdicts_in_the_catalogue_without_so_reuseaddr() {
    assert_verdicts_alone_equal_verdicts_in_the_catalogue("no-reuseaddr");
}

#[test]
fn verdicts_alone_equal_verdicts_in_the_catalogue_dying_on_a_reset() {
    assert_verdicts_alone_equal_verdicts_in_the_catalogue("dies-on-reset");
}

fn assert_verdicts_alone_equal_verdicts_in_the_catalogue(name: &str) {
    let cmd = variant(name, "{port}");
    let out = sockcheck(&["check", "--spawn", &cmd, "--format", "json", "--timeout", "2"]);
    let whole = verdicts(&out.stdout);
    let streams = sockcheck_scenarios::all().iter().filter(|s| !s.needs.datagram).count();
    assert_eq!(whole.len(), streams, "{name}");
    if name == "no-reuseaddr" {
        let failed: Vec<&str> = whole.iter().filter(|(_, r)| r == "fail").map(|(s, _)| s.as_str()).collect();
        assert_eq!(failed, ["restarted_server_binds_at_once"], "{name}: no cascade");
    }
    // Alone: every failure, and the scenarios before and after one (where a cascade would show).
    let picked: Vec<usize> = (0..whole.len())
        .filter(|&i| (i.saturating_sub(1)..=(i + 1).min(whole.len() - 1)).any(|j| whole[j].1 == "fail"))
        .collect();
    assert!(!picked.is_empty(), "{name}: nothing failed");
    let alone = crate::support::par_map(&picked, crate::support::JOBS, |&i| {
        let scenario = &whole[i].0;
        let out = sockcheck(&["check", "--spawn", &cmd, "--format", "json", "--timeout", "2", "--filter", scenario]);
        verdicts(&out.stdout).into_iter().filter(|(s, _)| s == scenario).collect::<Vec<_>>()
    });
    for (&i, alone) in picked.iter().zip(alone) {
        let (scenario, result) = &whole[i];
        assert_eq!(alone, [(scenario.clone(), result.clone())], "{name}: {scenario} alone");
    }
}

/// `--retries`: a scenario that fails and then passes against a fresh server is flaky (exit 0,
/// JUnit `<flakyFailure>`), and `--flaky-fails` makes that exit 1; one that fails every time fails.
#[test]
fn a_failure_that_passes_when_retried_is_flaky() {
    let dir = tempfile::tempdir().unwrap();
    let (probe, first) = (dir.path().join("probe-started"), dir.path().join("first-scenario-started"));
    // The first two servers started (the start-up probe, the scenario's first attempt) answer only
    // one recv per connection; every later one is correct.
    let cmd = format!(
        "if [ -e {f} ]; then exec {ok}; elif [ -e {p} ]; then touch {f}; exec {broken}; else touch {p}; exec {broken}; fi",
        p = probe.display(),
        f = first.display(),
        ok = variant("correct", "{port}"),
        broken = variant("once", "{port}")
    );
    let junit = dir.path().join("report.xml");
    let filter = ["--filter", "several_messages_on_one_connection", "--model", "sequential", "--timeout", "2"];
    fn args<'a>(cmd: &'a str, filter: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [&["check", "--spawn", cmd], filter, extra].concat()
    }
    let out =
        sockcheck(&args(&cmd, &filter, &["--retries", "1", "--format", "junit", "--output", junit.to_str().unwrap()]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("flaky") && stdout.contains("1 flaky"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("flakyFailure")).count(), 1, "{xml}");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 0, "{xml}");

    std::fs::remove_file(&probe).unwrap();
    std::fs::remove_file(&first).unwrap();
    let out = sockcheck(&args(&cmd, &filter, &["--retries", "1", "--flaky-fails"]));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}

/// `--retries`: one that fails every time fails.
#[test]
fn a_failure_on_every_retry_fails() {
    let once = variant("once", "{port}");
    let filter = ["--filter", "several_messages_on_one_connection", "--model", "sequential", "--timeout", "1"];
    let out = sockcheck(&[&["check", "--spawn", &once][..], &filter, &["--retries", "2"]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL") && !stdout.contains("flaky"), "{stdout}");
}

#[test]
fn where_a_spawned_program_listens_is_found_whatever_port_it_was_told() {
    use sockcheck::process::{Keep, Spawned, Stdin};
    let keep = Keep { stdout: Some(4096), stderr: Some(4096) };
    let bin = crate::support::BIN;
    let mut p = Spawned::start(&format!("exec {bin} serve --tcp 127.0.0.1:0"), Stdin::Null, keep).unwrap();
    wait_for("it to listen", Duration::from_secs(10), || !p.listens_at().is_empty());
    let at = p.listens_at();
    assert_eq!(at.len(), 1, "{at:?}");
    assert!(matches!(&at[0], sockcheck::Endpoint::Tcp(a) if a.ip().is_loopback() && a.port() != 0), "{at:?}");
    wait_for("its announcement", Duration::from_secs(10), || !p.stdout.bytes().is_empty());
    assert_eq!(String::from_utf8_lossy(&p.stdout.bytes()).trim(), format!("listening on {}", at[0]));
    p.stop(Duration::from_secs(1)).unwrap();
}
