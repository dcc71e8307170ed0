//! Whole reports of a run in one [`Format`]: human (a table and the failures' transcripts), JSON,
//! JUnit XML and HTML. JSON is the one source of truth: every field of the model is in it, and
//! [`super::read_json`] reads it back for any other format.

use std::io::{self, Write};

use super::{html, json, HumanReport, Outcome, Verdict};

/// The format of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The table and the failures' transcripts, as `check` prints them.
    Human,
    /// The JSON report, the one `sockcheck report` reads back.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
    /// One self-contained page: totals, a grid of runs, a sequence diagram per run.
    Html,
}

/// What a report says about the run as a whole (JSON and HTML show it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportMeta {
    /// What ran, e.g. `16 scenarios against the built-in server (sequential) over tcp`.
    pub title: Option<String>,
    /// The command line that ran it.
    pub command_line: Option<String>,
    /// The run's wall time, start-up and probes included (scenarios run at once: less than the
    /// sum of their times).
    pub wall: Option<std::time::Duration>,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "human" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            "html" => Ok(Format::Html),
            _ => Err(format!("`{s}` is not a report format (human, json, junit or html)")),
        }
    }
}

/// Write the report of these outcomes in this format (human: plain, without colour).
pub fn write_report(format: Format, outcomes: &[Outcome], out: &mut dyn Write) -> io::Result<()> {
    write_report_with(format, outcomes, &ReportMeta::default(), out)
}

/// [`write_report`] with what is known of the run as a whole.
pub fn write_report_with(
    format: Format,
    outcomes: &[Outcome],
    meta: &ReportMeta,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => {
            let mut report = HumanReport::with_names(&mut *out, false, outcomes.iter().map(|o| o.scenario.as_str()));
            let targets: Vec<&str> = distinct(outcomes.iter().map(|o| o.target.as_str()));
            report.header("report", &format!("{} scenario runs against {}", outcomes.len(), targets.join(", ")))?;
            for o in outcomes {
                report.row(o)?;
            }
            report.finish(outcomes, meta.wall)
        }
        Format::Json => json::write_json(outcomes, meta, out),
        Format::Junit => junit_report(outcomes).serialize(&mut *out).map_err(io::Error::other),
        Format::Html => out.write_all(html::page(outcomes, meta).as_bytes()),
    }
}

pub(super) fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = vec![];
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen
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
