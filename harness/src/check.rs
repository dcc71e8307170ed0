//! `sockcheck check`: the catalogue against one or more targets, and the human report.

use std::io::{self, Write};
use std::time::Instant;

use crate::addr::Transport;
use crate::proto::Transform;
use crate::runner::{format_duration, Outcome, RunOpts, Runner, Verdict};
use crate::scenario::{Mode, Scenario};
use crate::target::{ReferenceTarget, Target};

/// Which targets a check runs against.
pub enum TargetSpec {
    /// The built-in server, fresh for every scenario, for each transport and model listed.
    Reference { transports: Vec<Transport>, models: Vec<Mode>, transform: Transform },
    /// One target shared by all scenarios (a running address, a spawned command).
    Given(Box<dyn Target>),
}

/// Keep the scenarios whose names contain any of `filters` (all when empty).
pub fn select(scenarios: Vec<Scenario>, filters: &[String]) -> Vec<Scenario> {
    if filters.is_empty() {
        return scenarios;
    }
    scenarios.into_iter().filter(|s| filters.iter().any(|f| s.name().contains(f.as_str()))).collect()
}

/// Run every scenario against the targets; `each` sees every outcome as it comes.
pub fn run(
    scenarios: &[Scenario],
    spec: TargetSpec,
    opts: RunOpts,
    each: impl FnMut(&Outcome),
) -> io::Result<Vec<Outcome>> {
    run_observed(scenarios, spec, opts, |_, _| {}, each)
}

/// [`run`], with `started` told of each scenario (and its transport) before it runs.
pub fn run_observed(
    scenarios: &[Scenario],
    spec: TargetSpec,
    opts: RunOpts,
    mut started: impl FnMut(&Scenario, Transport),
    mut each: impl FnMut(&Outcome),
) -> io::Result<Vec<Outcome>> {
    let runner = Runner::new(opts)?;
    let mut outcomes = vec![];
    match spec {
        TargetSpec::Reference { transports, models, transform } => {
            for &transport in &transports {
                for &model in &models {
                    // The built-in server is run in every model it has: a scenario for the other
                    // model (or transport) is covered there, not skipped here.
                    for s in scenarios.iter().filter(|s| s.skip_reason(transport, Some(model), true).is_none()) {
                        let mut target = ReferenceTarget::new(transport, model, transform)?;
                        started(s, transport);
                        let outcome = runner.run(s, &mut target);
                        each(&outcome);
                        outcomes.push(outcome);
                    }
                }
            }
        }
        TargetSpec::Given(mut target) => {
            for s in scenarios {
                started(s, target.endpoint().transport());
                let outcome = runner.run(s, target.as_mut());
                // After a failure the next scenario gets a fresh server: whatever state the
                // failure left (a stuck connection, a half-dead process) is not its problem.
                if outcome.failed() && target.controllable() {
                    let _ = target.stop();
                }
                each(&outcome);
                outcomes.push(outcome);
            }
            let _ = target.stop();
        }
    }
    Ok(outcomes)
}

/// `N passed, N failed, N skipped`.
pub fn summary_line(outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    let skipped = outcomes.len() - passed - failed;
    format!("{passed} passed, {failed} failed, {skipped} skipped")
}

/// The human report: a table as outcomes arrive, then each failure with its transcript.
pub struct HumanReport<W: Write> {
    out: W,
    color: bool,
    name_width: usize,
    started: Instant,
}

impl<W: Write> HumanReport<W> {
    pub fn new(out: W, color: bool, scenarios: &[Scenario]) -> Self {
        Self::with_names(out, color, scenarios.iter().map(|s| s.name()))
    }

    /// A report whose name column fits these scenario names.
    pub fn with_names<'a>(out: W, color: bool, names: impl Iterator<Item = &'a str>) -> Self {
        let name_width = names.map(str::len).max().unwrap_or(8).max(8);
        HumanReport { out, color, name_width, started: Instant::now() }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn header(&mut self, what: &str) -> io::Result<()> {
        writeln!(self.out, "sockcheck check: {what}\n")?;
        writeln!(
            self.out,
            "{:<w$}  {:<9}  {:<36}  {:<6}  {:>8}",
            "SCENARIO",
            "TRANSPORT",
            "TARGET",
            "RESULT",
            "TIME",
            w = self.name_width
        )?;
        self.out.flush()
    }

    pub fn row(&mut self, o: &Outcome) -> io::Result<()> {
        let result = match &o.verdict {
            Verdict::Pass => self.paint("32", "pass  "),
            Verdict::Fail => self.paint("31;1", "FAIL  "),
            Verdict::Skip(_) => self.paint("33", "skip  "),
        };
        let time = if matches!(o.verdict, Verdict::Skip(_)) { "-".to_string() } else { format_duration(o.duration) };
        // A long target (a spawned command) is cut to its column; reports have it whole.
        let target = if o.target.chars().count() > 34 {
            format!("{}…", o.target.chars().take(33).collect::<String>())
        } else {
            o.target.clone()
        };
        let mut line = format!(
            "{:<w$}  {:<9}  {:<36}  {result}  {time:>8}",
            o.scenario,
            o.transport.name(),
            target,
            w = self.name_width
        );
        if let Verdict::Skip(why) = &o.verdict {
            line.push_str(&format!("  ({why})"));
        }
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    pub fn finish(&mut self, outcomes: &[Outcome]) -> io::Result<()> {
        for o in outcomes.iter().filter(|o| o.failed()) {
            writeln!(self.out)?;
            write!(self.out, "{}", o.report())?;
        }
        let summary = summary_line(outcomes);
        let failed = outcomes.iter().any(|o| o.failed());
        let summary = if failed { self.paint("31;1", &summary) } else { self.paint("32", &summary) };
        writeln!(self.out, "\n{summary}")?;
        writeln!(self.out, "finished in {}", format_duration(self.started.elapsed()))?;
        self.out.flush()
    }
}
