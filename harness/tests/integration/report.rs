//! Reports rendered again from their JSON (`sockcheck report`), and the HTML report: the same page
//! from the run and from its JSON, every text escaped, and drawn by a real browser (chromium,
//! headless) when one is installed; CI must install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::run;
use sockcheck::facts::{Difference, Fact, Micros, Served, Unit};
use sockcheck::report::json::to_micros;
use sockcheck::report::{read_json, write_report_with, Event, Failure, Format, Outcome, ReportMeta, Verdict};
use sockcheck::scenario::Mode;
use sockcheck::Transport;

fn event(at_us: u64, client: &str, step: &str, ok: bool, fact: Fact) -> Event {
    // Nanoseconds on purpose: reports keep microseconds, and must agree however they were made.
    Event {
        at: Duration::from_nanos(at_us * 1000 + 417),
        took: Duration::from_nanos(1_234_567),
        client: client.into(),
        step: step.into(),
        ok,
        fact,
    }
}

fn replied(bytes: u64) -> Fact {
    Fact::Replied { bytes, took: Micros(1300) }
}

/// A run over both transports and both models: passes, a failure with a byte mismatch, a flaky
/// one, a skip, a client check, and text a hostile program could have written.
fn sample() -> (Vec<Outcome>, ReportMeta) {
    let target = "python3 server.py {port} # \"<b>bold</b>'".to_string();
    let mk = |name: &str, t: Transport, m: Option<Mode>| {
        let mut o = Outcome::new(name, "a short message comes back in upper case", t, target.clone());
        o.model = m;
        o.duration = Duration::from_nanos(2_345_678_901);
        o
    };
    let mut outcomes = vec![];
    for t in Transport::ALL {
        for m in [Mode::Sequential, Mode::Concurrent] {
            let mut o = mk("short_message_is_echoed_upper", t, Some(m));
            o.transcript = vec![
                event(0, "a", "connect()", true, Fact::Connected { to: "tcp://127.0.0.1:4000".into() }),
                event(310, "a", "send(\"hello, world\")", true, Fact::Queued { bytes: 12 }),
                event(420, "a", "expect_reply()", true, replied(12)),
            ];
            outcomes.push(o);
        }
    }
    let wrong = Fact::WrongReply { diff: Difference::between(Unit::Stream, b"HELLO, WORLD", b"HELLO, world", 0) };
    outcomes[1].verdict = Verdict::Fail;
    outcomes[1].transcript[2] = event(420, "a", "expect_reply()", false, wrong.clone());
    let mut failure = Failure::new("a", 3, "expect_reply()", wrong);
    failure.classify(None);
    outcomes[1].failure = Some(failure);
    outcomes[1].repro = Some("sockcheck check --filter short_message_is_echoed_upper --transport tcp".into());
    outcomes[1].program_output =
        vec!["</pre><script>alert(1)</script>".into(), "<img src=x onerror=alert(2)> \x1b[31mred\x1b[0m".into()];
    outcomes[2].verdict = Verdict::Flaky;
    outcomes[2].attempts = 2;
    outcomes[2].failure = outcomes[1].failure.clone();
    outcomes[3].verdict = Verdict::Skip("needs a <concurrent> server".into());
    outcomes[3].transcript.clear();
    let mut big = mk("send_of_16m_comes_back_whole", Transport::Tcp, Some(Mode::Sequential));
    big.transcript = vec![
        event(0, "a", "connect()", true, Fact::Connected { to: "tcp://127.0.0.1:4000".into() }),
        event(5, "a", "send(random(1 << 24, 16))", true, Fact::Queued { bytes: 16777216 }),
        event(9, "a", "expect_reply()", true, replied(16777216)),
        event(50_000, "target", "stop_target()", true, Fact::TargetStopped),
        event(60_000, "-", "wait(ms(200))", true, Fact::Nothing),
    ];
    outcomes.push(big);
    let mut client = mk("reply_in_small_pieces_is_printed_whole", Transport::Unix, None);
    client.target = "python3 client.py {path}".into();
    client.transcript = vec![
        event(
            0,
            "sockcheck",
            "start",
            true,
            Fact::ClientStarted { serving: "listening on /tmp/x/echo.sock".into(), command: "c".into(), pty: true },
        ),
        event(10, "stdin", "type_line(\"the quick brown fox\")", true, Fact::Typed { bytes: 20 }),
        event(20, "stdout", "expect_replies()", false, line_wrong()),
        event(
            300,
            "server",
            "serve(reply_in_pieces(3, ms(15)))",
            true,
            Fact::ServerLog {
                served: Served { connections: 1, received: 19, replied: 3, ..Served::default() },
                nothing_listening: false,
                notes: vec![],
            },
        ),
    ];
    client.verdict = Verdict::Fail;
    let mut failure = Failure::new("stdout", 3, "expect_replies()", line_wrong());
    failure.classify(None);
    client.failure = Some(failure);
    outcomes.push(client);
    let meta = ReportMeta {
        title: Some("7 scenario runs against `python3 server.py` <b>".into()),
        command_line: Some("sockcheck check --spawn 'python3 server.py {port} # \"<b>' --format html".into()),
        wall: Some(Duration::from_micros(3_040_123)),
    };
    (outcomes, meta)
}

/// A command quoted with backticks in a title is set as code in the page, not shown with its
/// backticks; and the rest is still escaped.
#[test]
fn html_sets_quoted_commands_as_code() {
    let (outcomes, meta) = sample();
    let html = render(Format::Html, &outcomes, &meta);
    assert!(html.contains("against <code>python3 server.py</code> &lt;b&gt;</p>"), "{html}");
    assert!(!html.contains("`python3 server.py`"), "{html}");
}

/// One run shows one wall time everywhere, the saved one when rendered again; the sum of the
/// scenarios' times is named as what it is.
#[test]
fn every_report_shows_the_runs_wall_time_and_names_the_sum() {
    let (outcomes, meta) = sample();
    let human = render(Format::Human, &outcomes, &meta);
    assert!(human.contains("finished in 3.04s (wall time)"), "{human}");
    let html = render(Format::Html, &outcomes, &meta);
    assert!(html.contains("<b>3.04s</b>wall time"), "{html}");
    assert!(html.contains("runs, summed"), "{html}");
    let json = render(Format::Json, &outcomes, &meta);
    let saved = read_json(json.as_bytes()).unwrap();
    assert_eq!(saved.meta.wall, meta.wall);
    let again = render(Format::Human, &saved.outcomes, &saved.meta);
    assert!(again.contains("finished in 3.04s (wall time)"), "{again}");
}

fn line_wrong() -> Fact {
    Fact::wrong_line(1, b"THE QUICK BROWN FOX", b"THE")
}

fn render(format: Format, outcomes: &[Outcome], meta: &ReportMeta) -> String {
    let mut out = vec![];
    write_report_with(format, outcomes, meta, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_format_renders_the_same_from_the_run_and_from_its_json() {
    let (outcomes, meta) = sample();
    let json = render(Format::Json, &outcomes, &meta);
    let saved = read_json(json.as_bytes()).expect("the JSON report reads back");
    assert_eq!(saved.meta, meta);
    // The model comes back whole, times in microseconds.
    let rounded: Vec<Outcome> = outcomes
        .iter()
        .cloned()
        .map(|mut o| {
            o.duration = to_micros(o.duration);
            for e in &mut o.transcript {
                (e.at, e.took) = (to_micros(e.at), to_micros(e.took));
            }
            o
        })
        .collect();
    assert_eq!(saved.outcomes, rounded);
    assert_eq!(render(Format::Json, &saved.outcomes, &saved.meta), json, "JSON -> model -> JSON changed");
    assert_eq!(render(Format::Html, &saved.outcomes, &saved.meta), render(Format::Html, &outcomes, &meta));
    assert_eq!(render(Format::Junit, &saved.outcomes, &saved.meta), render(Format::Junit, &outcomes, &meta));
}

#[test]
fn html_grid_has_a_cell_per_run_and_every_failure_its_repro() {
    let (outcomes, meta) = sample();
    let html = render(Format::Html, &outcomes, &meta);
    // 2 transports x 2 models, plus a column for the client check's unknown model.
    assert_eq!(html.matches("<td class=\"cell ").count(), outcomes.len(), "{html}");
    assert_eq!(html.matches("<td class=\"none\">").count(), 3 * 5 - outcomes.len());
    assert!(html.contains("<th colspan=\"2\">tcp</th>") && html.contains("<th colspan=\"3\">unix</th>"));
    assert!(html.contains("title=\"skipped: needs a &lt;concurrent&gt; server\""));
    assert_eq!(html.matches("<section class=\"run ").count(), outcomes.len());
    assert!(html
        .contains("run it alone: <code>sockcheck check --filter short_message_is_echoed_upper --transport tcp</code>"));
    // The failing step is drawn in red; the 16 MiB transfer is one arrow.
    let failing = section(&html, 1);
    assert!(failing.contains("<g class=\"row step-fail\""), "{failing}");
    assert!(failing.contains("first difference at byte 7 of the stream"));
    assert!(failing.contains("<span class=\"at\">57</span>") && failing.contains("<span class=\"at\">77</span>"));
    assert!(section(&html, 4).contains(">16 MiB</text>"));
    assert!(section(&html, 5).contains(">stdin</text>") && section(&html, 5).contains(">client</text>"));
}

/// The section of run `i`.
fn section(html: &str, i: usize) -> &str {
    let start = html.find(&format!("id=\"r{i}\"")).expect("the section");
    &html[start..start + html[start..].find("</section>").unwrap()]
}

#[test]
fn html_escapes_everything_a_program_or_a_user_wrote() {
    let (outcomes, meta) = sample();
    let html = render(Format::Html, &outcomes, &meta);
    for raw in ["<script", "<img", "<b>bold", "\x1b"] {
        assert!(!html.contains(raw), "{raw:?} got into the page unescaped");
    }
    assert!(html.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("\\u{1b}[31mred"));
    assert!(html.contains("# &quot;&lt;b&gt;bold&lt;/b&gt;&#39;"));
    assert!(html.contains("Content-Security-Policy"), "scripts are forbidden even if escaping failed");
}

#[test]
fn report_rejects_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cases = [
        (dir.path().join("missing.json").display().to_string(), "cannot read"),
        (write("text.json", "PASS short_message\n"), "is not a sockcheck JSON report"),
        (
            write("shape.json", r#"{"format_version": 2, "outcomes": {"scenario": 1}}"#),
            "is not a sockcheck JSON report",
        ),
        (write("old.json", r#"{"outcomes": []}"#), "format_version is none; this sockcheck reads version 2"),
        (
            write(
                "time.json",
                r#"{"format_version": 2, "outcomes": [{"scenario": "x", "transport": "tcp", "result": "pass", "duration_ms": -5}]}"#,
            ),
            "duration_ms",
        ),
    ];
    for (file, want) in cases {
        let r = run(&["report", &file, "--format", "html"], b"");
        assert_eq!(r.code(), Some(2), "{file}: {}", r.stderr);
        assert_eq!(r.stderr_lines().len(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("sockcheck: error: ") && r.stderr.contains(want), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    let r = run(&["report", &write("ok.json", r#"{"format_version": 2, "outcomes": []}"#), "--format", "pdf"], b"");
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
}

#[test]
fn report_refuses_a_file_larger_than_any_run_writes_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    // Sparse: 65 MiB of nothing, on no disk.
    std::fs::File::create(&big).unwrap().set_len(65 << 20).unwrap();
    let r = run(&["report", big.to_str().unwrap(), "--format", "html"], b"");
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
    assert_eq!(r.stderr_lines().len(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("is 65 MiB; sockcheck reads reports of at most 64 MiB"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

/// A report written by hand (or by another tool) with texts, lists and a transcript far longer
/// than a run writes: what `report` embeds is cut, and says so.
#[test]
fn a_saved_report_with_huge_texts_and_lists_renders_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.json");
    let event = |i: usize| {
        format!(
            r#"{{"at_ms": {i}, "client": "a", "step": "send(1)", "ok": true, "fact": {{"fact": "sent", "bytes": 1}}}}"#
        )
    };
    let events: Vec<String> = (0..5_000).map(event).collect();
    let lines: Vec<String> = (0..5_000).map(|i| format!("\"line {i}\"")).collect();
    let text = "z".repeat(3 << 20);
    let json = format!(
        r#"{{"format_version": 2, "outcomes": [{{"scenario": "huge", "about": "{text}", "transport": "tcp",
        "result": "fail", "program_output": [{lines}], "transcript": [{events}],
        "failure": {{"client": "a", "step_index": 5000, "step": "expect_reply()", "cause": "no_reply",
        "fact": {{"fact": "no_reply", "waited": 1000, "got": 0, "expected": 1, "stalled": false}}}}}}]}}"#,
        lines = lines.join(","),
        events = events.join(","),
    );
    std::fs::write(&file, &json).unwrap();
    let r = run(&["report", file.to_str().unwrap(), "--format", "html"], b"");
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    let html = String::from_utf8(r.stdout).unwrap();
    assert!(html.len() < 2 << 20, "{} bytes of HTML from a {} byte report", html.len(), json.len());
    assert!(html.contains(&format!("… ({} characters left out)", (3 << 20) - 4096)), "the long text says it was cut");
    assert!(html.contains("… (4000 left out)"), "the long list says it was cut");
    let r = run(&["report", file.to_str().unwrap(), "--format", "human"], b"");
    let human = String::from_utf8(r.stdout).unwrap();
    assert!(human.contains("… (4000 steps left out)"), "the long transcript says it was cut");
    assert!(human.len() < 1 << 20, "{} bytes of text", human.len());
}

#[test]
fn a_report_that_cannot_be_written_names_the_file() {
    let r = run(&["check", "--filter", "short_message", "--format", "json", "--output", "/dev/full"], b"");
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("cannot write /dev/full: No space left on device"), "{}", r.stderr);
    assert_eq!(r.stderr_lines().len(), 1, "{}", r.stderr);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let r = run(&["check", "--filter", "short_message", "--format", "json", "--output", json.to_str().unwrap()], b"");
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let r = run(&["report", json.to_str().unwrap(), "--format", "html", "--output", "/dev/full"], b"");
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("cannot write /dev/full: No space left on device"), "{}", r.stderr);
}

fn here(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

/// `check --spawn` of the server that answers only the first recv of a connection: one scenario
/// passes, two fail, one is skipped (Unix only).
fn check_once_server(format: &str, output: &Path) -> crate::support::Run {
    let spawn = crate::support::py(format!("python3 {} once {{port}}", here("tests/servers/variants.py")));
    let out = output.to_str().unwrap();
    run(
        &[
            "check",
            "--spawn",
            &spawn,
            "--model",
            "sequential",
            "--timeout",
            "1",
            "--filter",
            "short_message",
            "--filter",
            "several_messages",
            "--filter",
            "send_of_64k",
            "--filter",
            "stale_socket",
            "--format",
            format,
            "--output",
            out,
        ],
        b"",
    )
}

#[test]
fn a_saved_json_report_renders_as_html_junit_human_and_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let r = check_once_server("json", &json);
    assert_eq!(r.code(), Some(1), "{}", String::from_utf8_lossy(&r.stdout));
    let report = |format: &str| {
        let r = run(&["report", json.to_str().unwrap(), "--format", format], b"");
        // The saved run failed: so does its report, as CI gates on it.
        assert_eq!(r.code(), Some(1), "{format}: {}", r.stderr);
        String::from_utf8(r.stdout).unwrap()
    };
    assert_eq!(report("json"), std::fs::read_to_string(&json).unwrap());
    let html = report("html");
    assert_eq!(html.matches("<td class=\"cell ").count(), 4);
    assert!(html.contains("sockcheck check --spawn") && html.contains("--format json"), "the command line is shown");
    let human = report("human");
    assert!(human.contains("FAIL several_messages_on_one_connection over tcp"), "{human}");
    assert!(human.contains("run it alone: sockcheck check --spawn"), "{human}");
    assert!(human.contains("1 passed, 2 failed, 1 skipped"), "{human}");
    let xml = report("junit");
    let doc = roxmltree::Document::parse(&xml).expect("valid JUnit XML");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count(), 4);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 2);
    let out = dir.path().join("again.html");
    let r = run(&["report", json.to_str().unwrap(), "--format", "html", "--output", out.to_str().unwrap()], b"");
    assert_eq!((r.code(), r.stdout.len()), (Some(1), 0), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(out).unwrap(), html);
}

#[test]
fn check_client_writes_html_to_stdout() {
    let r = run(&["check-client", "--filter", "line_is_sent", "--transport", "unix", "--format", "html"], b"");
    let html = String::from_utf8(r.stdout.clone()).unwrap();
    assert_eq!(r.code(), Some(0), "{html}\n{}", r.stderr);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"), "only the page on stdout");
    assert_eq!(html.matches("<td class=\"cell pass\"").count(), 1);
    assert!(html.contains(">stdin</text>") && html.contains(">stdout</text>") && html.contains(">server</text>"));
}

/// `chromium`: the browser test needs it (`.ci/run` installs it).
fn chromium() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
        .expect("chromium is not on the PATH: install it (apt-get install chromium; .ci/run does)")
}

/// Run headless chromium on `page` with `args`; its stdout. A browser that starts badly beside a
/// full test run (nothing on stdout, its zygote's pipe broken) gets four more tries; then its
/// stderr is in the panic.
fn browse(chromium: &Path, page: &Path, args: &[&str]) -> String {
    let mut errors = String::new();
    for _ in 0..5 {
        let (out, err) = browse_once(chromium, page, args);
        if !out.trim().is_empty() || args.iter().any(|a| a.starts_with("--screenshot")) {
            return out;
        }
        errors = err;
    }
    panic!("chromium printed nothing for {page:?} five times; its stderr:\n{errors}");
}

fn browse_once(chromium: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--hide-scrollbars"])
        // One browser process and its renderers, no zygote to lose on a busy machine.
        .args(["--no-zygote", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish with {page:?} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (reader.join().unwrap(), err_reader.join().unwrap())
}

#[test]
fn a_browser_draws_the_grid_and_the_failing_step() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let r = check_once_server("html", &page);
    assert_eq!(r.code(), Some(1), "{}", String::from_utf8_lossy(&r.stdout));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("run it alone: <code>sockcheck check --spawn"), "every failure ends with its repro");
    let chromium = chromium();

    // What the browser built from the page, not the page's text.
    let dom = browse(&chromium, &page, &["--dump-dom"]);
    assert_eq!(dom.matches("<td class=\"cell ").count(), 4, "one cell per run:\n{dom}");
    assert_eq!(dom.matches("<td class=\"cell fail\"").count(), 2);
    let failing = dom
        .split("<section class=\"run ")
        .find(|s| s.contains(">several_messages_on_one_connection</span>"))
        .expect("the failing scenario's section");
    assert!(failing.starts_with("fail\""), "{failing}");
    let step = &failing[failing.find("class=\"row step-fail\"").expect("a failing step in the diagram")..];
    let step = &step[..step.find("</g>").unwrap()];
    assert!(step.contains(">expect_reply()</text>") && step.contains("no complete reply"), "{step}");

    let png = dir.path().join("report.png");
    browse(&chromium, &page, &[&format!("--screenshot={}", png.display()), "--window-size=1400,2000"]);
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{} bytes", bytes.len());

    // Hostile output stays text in the browser too.
    let (outcomes, meta) = sample();
    let nasty = dir.path().join("nasty.html");
    std::fs::write(&nasty, render(Format::Html, &outcomes, &meta)).unwrap();
    let dom = browse(&chromium, &nasty, &["--dump-dom"]);
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{dom}");
    assert!(!dom.contains("<script") && !dom.contains("<img") && !dom.contains("<b>bold"), "{dom}");
}
