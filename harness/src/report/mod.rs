//! The outcome model and every rendering of it.
//!
//! A run of scenarios (server or client checks alike) yields [`Outcome`]s: a verdict, where it
//! failed, and the transcript. Every report is a renderer around that one model.
//!
//! # Layout
//! - this file: [`Outcome`], [`Verdict`], [`Failure`], [`Event`], the one-line and full texts.

//! - [`human`]: the table printed as outcomes arrive, then each failure with its transcript.
//! - [`render`]: whole reports in a [`Format`] (human, JSON, JUnit XML, HTML), and [`ReportMeta`].
//! - [`json`]: the JSON report both ways: written, and read back into the model ([`read_json`]).
//! - [`html`]: the HTML page: totals, a grid of runs, a section per run; [`diagram`] draws each
//!   transcript as a sequence diagram (inline SVG).
//! - [`progress`]: the "running ... 3.2s" line on a terminal.
//! - [`session`]: the table, progress line and report file around one run ([`Reporter`]).

use std::fmt::Write as _;
use std::time::Duration;

use crate::addr::Transport;
use crate::facts::{Cause, Context, Fact, TargetEnd};
use crate::server::Mode;

pub mod diagram;
pub mod html;
pub mod human;
pub mod json;
pub mod progress;
pub mod render;
pub mod session;

pub use human::HumanReport;
pub use json::{read_json, SavedReport, MAX_SAVED};
pub use progress::Progress;
pub use render::{write_report, write_report_with, Format, ReportMeta};
pub use session::{Observer, ReportOpts, Reporter};

/// The result of one scenario run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every step did what the scenario asks.
    Pass,
    /// A step failed, or the program under test ended badly after the last one.
    Fail,
    /// Failed, then passed when run again against a fresh target (`--retries`): the failure is
    /// kept in [`Outcome::failure`].
    Flaky,
    /// Not run here, and why (a transport or model the target lacks, ...).
    Skip(String),
}

impl Verdict {
    /// `pass`, `fail`, `flaky` or `skip`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Flaky => "flaky",
            Verdict::Skip(_) => "skip",
        }
    }
}

/// Where and why a scenario failed: the failing step's fact, what else was known, and the cause
/// [`classify`](crate::facts::classify) derived from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The client (or `target`, `stdout`, ...) whose step failed.
    pub client: String,
    /// 1-based position of the step in the scenario's transcript.
    pub step_index: usize,
    /// The failing step, as DSL code (`send("hello")`) or a word for what sockcheck did.
    pub step: String,
    /// What the failing step saw.
    pub fact: Fact,
    /// How the program under test ended, when it did.
    pub end: Option<TargetEnd>,
    /// The line of the program's output that names its error.
    pub error_line: Option<String>,
    /// Why it failed: the bug, and its fix ([`Cause::fix`]).
    pub cause: Cause,
}

impl Failure {
    /// A failure of step `step` of `client`; its cause is derived when the outcome is made.
    pub fn new(client: &str, step_index: usize, step: impl Into<String>, fact: Fact) -> Self {
        Failure {
            client: client.to_string(),
            step_index,
            step: step.into(),
            fact,
            end: None,
            error_line: None,
            cause: Cause::Sockcheck,
        }
    }

    /// Derive the cause from the fact and what is known around it.
    pub fn classify(&mut self, greeting: Option<Vec<u8>>) {
        let ctx = Context { end: self.end.clone(), error_line: self.error_line.clone(), greeting };
        self.cause = crate::facts::classify(&self.fact, &ctx);
    }

    /// What happened, in words: the fact, how the program ended, its error line.
    pub fn message(&self) -> String {
        let mut s = self.fact.to_string();
        if let Some(end) = &self.end {
            let _ = write!(s, "; {end}");
        }
        if let Some(line) = &self.error_line {
            let _ = write!(s, "; it wrote: {line}");
        }
        s
    }
}

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Since the scenario started.
    pub at: Duration,
    /// How long the step took.
    pub took: Duration,
    /// Who played the step: a client's name, `server`, `stdout`, `target`, ...
    pub client: String,
    /// The step, as DSL code or a word for what sockcheck did.
    pub step: String,
    /// Whether the step did what the scenario asks.
    pub ok: bool,
    /// What the step saw.
    pub fact: Fact,
}

/// One scenario over one transport against one target (a server, or a client under test).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: String,
    /// What the scenario checks, in one sentence.
    pub about: String,
    /// The transport it ran over.
    pub transport: Transport,
    /// The serving model of the server, when known (several may run against the built-in one).
    pub model: Option<Mode>,
    /// The program it ran against, in one line (`built-in server (sequential, upper)`).
    pub target: String,
    /// Passed, failed, flaky or skipped.
    pub verdict: Verdict,
    /// The failure (of an earlier attempt, when flaky); `None` when it passed or was skipped.
    pub failure: Option<Failure>,
    /// How long the (last) run took.
    pub duration: Duration,
    /// Every step played, in time order.
    pub transcript: Vec<Event>,
    /// How many times it ran (more than 1 with `--retries`).
    pub attempts: u32,
    /// A command that runs this scenario alone, as it ran here.
    pub repro: Option<String>,
    /// The scenario as DSL code, when it is not one of the catalogue's (a case `explore` found).
    pub code: Option<String>,
    /// What the program under test wrote (stderr, then stdout) during this scenario, when that
    /// explains a failure: whole lines, the start and the end of a long excerpt.
    pub program_output: Vec<String>,
}

impl Outcome {
    /// How a flaky outcome came to be, in words: passed on a retry (`--retries`), or failed once and
    /// then passed when run again (`explore`'s reruns).
    pub fn flaky_words(&self) -> String {
        if self.attempts > 1 {
            format!("passed on attempt {}; an earlier attempt failed", self.attempts)
        } else {
            "it failed, then passed every time it was run again".into()
        }
    }

    /// A passing outcome with nothing in it yet.
    pub fn new(scenario: &str, about: &str, transport: Transport, target: String) -> Self {
        Outcome {
            scenario: scenario.to_string(),
            about: about.to_string(),
            transport,
            model: None,
            target,
            verdict: Verdict::Pass,
            failure: None,
            duration: Duration::ZERO,
            transcript: vec![],
            attempts: 1,
            repro: None,
            code: None,
            program_output: vec![],
        }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
    /// Whether it failed (a flaky outcome did not).
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }
    /// Whether it failed, then passed when run again.
    pub fn flaky(&self) -> bool {
        self.verdict == Verdict::Flaky
    }

    /// What failed, in one line.
    pub fn summary(&self) -> String {
        match (&self.verdict, &self.failure) {
            (Verdict::Pass, _) => "passed".into(),
            (Verdict::Skip(why), _) => format!("skipped: {why}"),
            (Verdict::Fail, Some(f)) => format!(
                "{}: client `{}`, step {} `{}`: {}",
                f.cause.title(),
                f.client,
                f.step_index,
                f.step,
                f.message()
            ),
            (Verdict::Flaky, Some(f)) => format!(
                "flaky: {} ({}) at client `{}`, step {} `{}`: {}",
                self.flaky_words(),
                f.cause.title(),
                f.client,
                f.step_index,
                f.step,
                f.message()
            ),
            (Verdict::Fail | Verdict::Flaky, None) => self.verdict.name().into(),
        }
    }

    /// The full report: verdict, failure and transcript.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let verdict = self.verdict.name().to_uppercase();
        let _ = writeln!(s, "{verdict} {} over {} against {}", self.scenario, self.transport, self.target);
        if !self.about.is_empty() {
            let _ = writeln!(s, "  checks: {}", self.about);
        }
        if self.verdict != Verdict::Pass {
            let _ = writeln!(s, "  {}", self.summary());
            if let Some(f) = &self.failure {
                let _ = writeln!(s, "  fix: {}", f.cause.fix());
            }
        }
        if !self.transcript.is_empty() {
            let _ = writeln!(s, "  transcript:");
            for e in &self.transcript {
                let mark = if e.ok { "ok  " } else { "FAIL" };
                let _ = writeln!(
                    s,
                    "    {:>8.3}s {:>9}  {:<8} {:<34} {mark} {}",
                    e.at.as_secs_f64(),
                    format_duration(e.took),
                    e.client,
                    e.step,
                    e.fact
                );
            }
        }
        if self.verdict != Verdict::Pass && !self.program_output.is_empty() {
            let _ = writeln!(s, "  the program wrote:");
            for line in &self.program_output {
                let _ = writeln!(s, "    | {line}");
            }
        }
        if let (true, Some(repro)) = (self.verdict != Verdict::Pass, &self.repro) {
            let _ = writeln!(s, "  run it alone: {repro}");
        }
        if let Some(code) = &self.code {
            let _ = writeln!(s, "  as a scenario (paste it into scenarios/):");
            for line in code.lines() {
                let _ = writeln!(s, "    {line}");
            }
        }
        s
    }
}

/// How many outcomes of each verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Outcomes that passed.
    pub passed: usize,
    /// Outcomes that failed.
    pub failed: usize,
    /// Outcomes that failed, then passed when run again.
    pub flaky: usize,
    /// Outcomes skipped.
    pub skipped: usize,
}

impl Totals {
    /// The totals of `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Totals {
        let mut t = Totals::default();
        for o in outcomes {
            match o.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail => t.failed += 1,
                Verdict::Flaky => t.flaky += 1,
                Verdict::Skip(_) => t.skipped += 1,
            }
        }
        t
    }
}

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Mark the start of the run: `main` calls it first, so that the wall time reports show includes
/// start-up and the model probe.
pub fn start_clock() {
    STARTED.get_or_init(std::time::Instant::now);
}

/// Wall time since [`start_clock`].
pub fn wall_time() -> Duration {
    STARTED.get_or_init(std::time::Instant::now).elapsed()
}

/// `N passed, N failed, N skipped` (`, N flaky` when some were).
pub fn summary_line(outcomes: &[Outcome]) -> String {
    let t = Totals::of(outcomes);
    let flaky = if t.flaky > 0 { format!(", {} flaky", t.flaky) } else { String::new() };
    format!("{} passed, {} failed, {} skipped{flaky}", t.passed, t.failed, t.skipped)
}

/// `1.2ms`, `340µs`, `2.50s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}
