//! An interrupted run leaves nothing behind: SIGINT, SIGTERM and SIGHUP at random moments of
//! `check --spawn`, `check-client --spawn` and `bench --spawn`, at `--jobs 1`, the default and 8.
//! Afterwards no process of the run is left (each run's processes carry a marker in their
//! environment, which every program they start inherits, wherever it goes), its `TMPDIR` (a
//! fresh dir per run) is empty, so no temp dir and no socket file is left.
//!
//! `cargo test` does `SOCKCHECK_INTERRUPT_RUNS` runs per combination (default 2: 42 runs, a
//! few at a time); the figure is 50 (`SOCKCHECK_INTERRUPT_RUNS=50`). The moments are
//! drawn from a seed printed on stderr, `SOCKCHECK_INTERRUPT_SEED` replays one. SIGKILL of
//! sockcheck itself is the exception: nothing can clean up after it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};

use crate::support::{par_map, wait_until, BIN, DEADLINE};

const MARK: &str = "SOCKCHECK_INTERRUPT_MARK";

/// Processes whose environment holds `MARK=marker`.
fn marked(marker: &str) -> Vec<(i32, String)> {
    let want = format!("{MARK}={marker}");
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if env.split(|&b| b == 0).any(|v| v == want.as_bytes()) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    found
}

/// Everything under `dir`, as paths.
fn left_in(dir: &Path) -> Vec<String> {
    let mut left = vec![];
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(e.path());
            }
            left.push(e.path().display().to_string());
        }
    }
    left
}

#[derive(Clone, Copy, Debug)]
enum Run {
    Check,
    CheckClient,
    Bench,
}

/// One run's command line; `unix` uses `{path}` (socket files) rather than `{port}`.
fn args(run: Run, jobs: Option<&str>, unix: bool) -> Vec<String> {
    let at = if unix { "--unix {path}" } else { "--tcp 127.0.0.1:{port}" };
    let mut args: Vec<String> = match run {
        Run::Check => vec!["check".into(), "--spawn".into(), format!("{BIN} serve {at} --mode concurrent")],
        Run::CheckClient => vec!["check-client".into(), "--spawn".into(), format!("{BIN} client {at}")],
        Run::Bench => vec![
            "bench".into(),
            "--spawn".into(),
            format!("{BIN} serve {at} --mode concurrent"),
            "--duration".into(),
            "2".into(),
        ],
    };
    if let Some(j) = jobs {
        args.extend(["--jobs".into(), j.into()]);
    }
    args
}

/// Start the run, signal it after `after`, and return what it left behind (empty: nothing).
fn interrupt_once(run: Run, jobs: Option<&str>, signal: Signal, after: Duration, unix: bool) -> Vec<String> {
    let tmp = tempfile::Builder::new().prefix("sockcheck-interrupt-test-").tempdir().unwrap();
    let marker = format!("{}-{:?}", std::process::id(), tmp.path());
    let args = args(run, jobs, unix);
    let mut child = Command::new(BIN)
        .args(&args)
        .env("TMPDIR", tmp.path())
        .env(MARK, &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{args:?} still running {DEADLINE:?} after {signal}");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut left = vec![];
    // Before the handler is in, or after the run has finished, the signal does what it does by
    // default; within the run, sockcheck exits 130 once everything is stopped.
    if !matches!(status.code(), Some(130) | Some(0) | Some(1)) && status.code().is_some() {
        left.push(format!("exit status {status}"));
    }
    for (pid, cmd) in marked(&marker) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        left.push(format!("process {pid} `{cmd}`"));
    }
    left.extend(left_in(tmp.path()));
    left.into_iter().map(|l| format!("{run:?} {args:?} {signal} after {after:?}: {l}")).collect()
}

#[test]
fn a_signal_at_any_moment_leaves_no_process_no_temp_dir_and_no_socket_file() {
    let runs: usize = std::env::var("SOCKCHECK_INTERRUPT_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let seed: u64 = std::env::var("SOCKCHECK_INTERRUPT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("interrupts: seed {seed} (SOCKCHECK_INTERRUPT_SEED={seed} replays it), {runs} runs per combination");
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed.to_le_bytes(), [0; 8], [0; 8], [0; 8]].concat());
    let mut cases = vec![];
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        for run in [Run::Check, Run::CheckClient, Run::Bench] {
            let jobs: &[Option<&str>] = match run {
                Run::Bench => &[None],
                _ => &[Some("1"), None, Some("8")],
            };
            for &jobs in jobs {
                for i in 0..runs {
                    // Most runs last a few seconds; the first 1.5 s hold the start-up, the model
                    // probe and the busiest part of the run.
                    let after = Duration::from_micros(rng.next_u64() % 1_500_000);
                    cases.push((run, jobs, signal, after, i % 2 == 1));
                }
            }
        }
    }
    let left: Vec<String> =
        par_map(&cases, 3, |&(run, jobs, signal, after, unix)| interrupt_once(run, jobs, signal, after, unix))
            .into_iter()
            .flatten()
            .collect();
    assert!(left.is_empty(), "seed {seed}: left behind:\n{}", left.join("\n"));
}

/// The tests of escaping processes use util-linux's `setsid(1)`, as scripts that daemonise do.
fn needs_setsid() {
    assert!(Command::new("setsid").arg("--version").output().is_ok(), "these tests need setsid(1) (util-linux)");
}

/// A program that puts a process out of its process group (`setsid`) while it serves.
fn escaping_server(listening: bool) -> String {
    let escapee = if listening { format!("{BIN} serve --tcp 127.0.0.1:0") } else { "sleep 300".to_string() };
    format!("setsid {escapee} >/dev/null 2>&1 & exec {BIN} serve --tcp 127.0.0.1:{{port}}")
}

#[test]
fn a_process_that_left_the_process_group_is_stopped_and_named() {
    needs_setsid();
    for listening in [false, true] {
        let marker = format!("escape-{}-{listening}", std::process::id());
        let out = Command::new(BIN)
            .args(["check", "--spawn", &escaping_server(listening), "--filter", "short_message_is_echoed_upper"])
            .env(MARK, &marker)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(marked(&marker).is_empty(), "left running: {:?}", marked(&marker));
        let note = stderr.lines().find(|l| l.contains("left the process group")).unwrap_or_else(|| panic!("{stderr}"));
        assert!(note.ends_with("; stopped"), "{note}");
        assert!(stderr.contains("run it in the foreground"), "{stderr}");
        if listening {
            assert!(note.contains("was still listening on tcp://127.0.0.1:"), "{note}");
        } else {
            assert!(note.contains("was still running: pid ") && note.contains("`sleep 300`"), "{note}");
        }
    }
}

#[test]
fn a_server_that_daemonises_is_stopped_and_told_to_run_in_the_foreground() {
    needs_setsid();
    let marker = format!("daemon-{}", std::process::id());
    // The parent exits 0 once its child, in a session of its own, listens on {port} (it waits for
    // the child's "listening on" line, then leaves it running).
    let cmd = format!("setsid {BIN} serve --tcp 127.0.0.1:{{port}} 2>/dev/null | head -n 1");
    let out = Command::new(BIN)
        .args(["check", "--spawn", &cmd, "--filter", "short_message_is_echoed_upper"])
        .env(MARK, &marker)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    wait_until("nothing of the run to be left", Duration::from_secs(1), || marked(&marker).is_empty());
    assert!(
        stderr.contains("a process that left the process group was still listening on tcp://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("run it in the foreground"), "{stderr}");
}
