//! Whole reports of a run in one [`Format`]: human (a table and the failures' transcripts), JSON
//! and JUnit XML. JSON is the one source of truth: every field of the model is in it.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use super::{HumanReport, Outcome, Totals, Verdict};

/// The format of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Junit,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "human" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            _ => Err(format!("`{s}` is not a report format (human, json or junit)")),
        }
    }
}

/// Write the report of these outcomes in this format (human: plain, without colour).
pub fn write_report(format: Format, outcomes: &[Outcome], out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => {
            let mut report = HumanReport::with_names(&mut *out, false, outcomes.iter().map(|o| o.scenario.as_str()));
            let targets: Vec<&str> = distinct(outcomes.iter().map(|o| o.target.as_str()));
            report.header(&format!("{} scenario runs against {}", outcomes.len(), targets.join(", ")))?;
            for o in outcomes {
                report.row(o)?;
            }
            report.finish(outcomes)
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &json_report(outcomes)).map_err(io::Error::other)?;
            writeln!(out)
        }
        Format::Junit => junit_report(outcomes).serialize(&mut *out).map_err(io::Error::other),
    }
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = vec![];
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen
}

#[derive(Serialize)]
struct JsonReport<'a> {
    passed: usize,
    failed: usize,
    flaky: usize,
    skipped: usize,
    outcomes: Vec<JsonOutcome<'a>>,
}

#[derive(Serialize)]
struct JsonOutcome<'a> {
    scenario: &'a str,
    about: &'a str,
    transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'static str>,
    target: &'a str,
    /// `pass`, `fail`, `flaky` or `skip`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_reason: Option<&'a str>,
    duration_ms: f64,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    repro: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    program_output: &'a [String],
    failure: Option<JsonFailure<'a>>,
    transcript: Vec<JsonEvent<'a>>,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    client: &'a str,
    step_index: usize,
    step: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    at_ms: f64,
    took_ms: f64,
    client: &'a str,
    step: &'a str,
    ok: bool,
    note: &'a str,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn json_report(outcomes: &[Outcome]) -> JsonReport<'_> {
    let t = Totals::of(outcomes);
    JsonReport {
        passed: t.passed,
        failed: t.failed,
        flaky: t.flaky,
        skipped: t.skipped,
        outcomes: outcomes
            .iter()
            .map(|o| JsonOutcome {
                scenario: &o.scenario,
                about: &o.about,
                transport: o.transport.name(),
                model: o.model.map(|m| m.name()),
                target: &o.target,
                result: o.verdict.name(),
                skip_reason: match &o.verdict {
                    Verdict::Skip(why) => Some(why),
                    _ => None,
                },
                duration_ms: ms(o.duration),
                attempts: o.attempts,
                repro: o.repro.as_deref(),
                program_output: &o.program_output,
                failure: o.failure.as_ref().map(|f| JsonFailure {
                    client: &f.client,
                    step_index: f.step_index,
                    step: &f.step,
                    message: &f.message,
                }),
                transcript: o
                    .transcript
                    .iter()
                    .map(|e| JsonEvent {
                        at_ms: ms(e.at),
                        took_ms: ms(e.took),
                        client: &e.client,
                        step: &e.step,
                        ok: e.ok,
                        note: &e.note,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// One testsuite per target, one testcase per scenario x transport (named `scenario over tcp`).
fn junit_report(outcomes: &[Outcome]) -> quick_junit::Report {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("sockcheck");
    report.set_time(outcomes.iter().map(|o| o.duration).sum());
    for target in distinct(outcomes.iter().map(|o| o.target.as_str())) {
        let mut suite = TestSuite::new(format!("sockcheck check: {target}"));
        for o in outcomes.iter().filter(|o| o.target == target) {
            let status = match &o.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Fail => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(o.summary()).set_type("scenario failed").set_description(o.report());
                    s
                }
                Verdict::Flaky => {
                    // As cargo-nextest writes it: a success with the failed runs as <flakyFailure>.
                    let mut s = TestCaseStatus::success();
                    let mut rerun = quick_junit::TestRerun::new(NonSuccessKind::Failure);
                    rerun.set_message(o.summary()).set_type("scenario failed").set_description(o.report());
                    s.add_rerun(rerun);
                    s
                }
                Verdict::Skip(why) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(why.as_str());
                    s
                }
            };
            let mut case = TestCase::new(format!("{} over {}", o.scenario, o.transport.name()), status);
            case.set_classname(format!("sockcheck.{}", o.transport.name())).set_time(o.duration);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
}
