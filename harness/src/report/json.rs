//! The JSON report both ways. Written from the model, and read back into the same model
//! (`sockcheck report`), so every other format can be rendered from a saved run: JSON is the one
//! source of truth. Times are whole microseconds (milliseconds with three decimals), so model ->
//! JSON -> model -> JSON gives the same bytes.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Event, Failure, Outcome, ReportMeta, Totals, Verdict};
use crate::facts::{Cause, Fact, TargetEnd};

/// The version of the JSON report's shape; `sockcheck report` reads this version only.
pub const FORMAT_VERSION: u32 = 2;

/// A report read back from JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedReport {
    /// What the report says about the run as a whole.
    pub meta: ReportMeta,
    /// Every outcome, in the report's order.
    pub outcomes: Vec<Outcome>,
}

/// Write the JSON report (pretty, with a final newline).
pub fn write_json(outcomes: &[Outcome], meta: &ReportMeta, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &json_report(outcomes, meta)).map_err(io::Error::other)?;
    writeln!(out)
}

/// Read a JSON report back into the model. The error is one line: what is wrong and where.
/// Fields a newer sockcheck may add are ignored; the totals are recounted from the outcomes.
pub fn read_json(bytes: &[u8]) -> Result<SavedReport, String> {
    #[derive(Deserialize)]
    struct Version {
        #[serde(default)]
        format_version: Option<u32>,
    }
    let version = serde_json::from_slice::<Version>(bytes).map_err(|e| e.to_string())?.format_version;
    if version != Some(FORMAT_VERSION) {
        let was = version.map_or("none".to_string(), |v| v.to_string());
        return Err(format!(
            "the report's format_version is {was}; this sockcheck reads version {FORMAT_VERSION} (run the check again)"
        ));
    }
    let mut tree: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    bound(&mut tree, "");
    let report: JsonReport = serde_json::from_value(tree).map_err(|e| e.to_string())?;
    let meta = ReportMeta {
        title: report.title.map(Cow::into_owned),
        command_line: report.command_line.map(Cow::into_owned),
        wall: report.wall_ms.map(|ms| duration(ms, "wall_ms")).transpose()?,
    };
    let outcomes = report
        .outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let name = o.scenario.to_string();
            outcome(o).map(bound_transcript).map_err(|e| format!("outcome {} (`{name}`): {e}", i + 1))
        })
        .collect::<Result<_, _>>()?;
    Ok(SavedReport { meta, outcomes })
}

/// The largest file `sockcheck report` reads. A run writes far less (the whole catalogue, every
/// scenario failing, is a few hundred KB), and rendering what is read must stay cheap.
pub const MAX_SAVED: u64 = 64 << 20;
/// What a report read back embeds at most: characters of one text, items of one list, steps of one
/// transcript. A run writes less; a file written by hand or by another tool is cut to this.
const MAX_TEXT: usize = 4096;
/// Escaped bytes (a payload's head, a difference's excerpts) are cut shorter, and cut silently:
/// the length beside them still says how many bytes there were.
const MAX_ESCAPED: usize = 1024;
const MAX_LIST: usize = 1000;
const MAX_STEPS: usize = 1000;

/// Cut every text and list of a report read back to what a report embeds; `key` is the field
/// holding `value`. The outcomes are not cut (the file's size bounds them), nor the transcripts
/// ([`bound_transcript`] cuts those, saying how many steps it left out).
fn bound(value: &mut serde_json::Value, key: &str) {
    use serde_json::Value;
    match value {
        Value::String(s) if key == "head" || key == "expected" || key == "got" => {
            if let Some((at, _)) = s.char_indices().nth(MAX_ESCAPED) {
                s.truncate(at);
                // Not inside an escape (`\xNN`, `\u{NNNN}`): back off until what is left reads.
                for _ in 0..10 {
                    if crate::facts::unshow(s).is_ok() {
                        break;
                    }
                    s.pop();
                }
            }
        }
        Value::String(s) => {
            if let Some((at, _)) = s.char_indices().nth(MAX_TEXT) {
                let left = s[at..].chars().count();
                s.truncate(at);
                s.push_str(&format!("… ({left} characters left out)"));
            }
        }
        Value::Array(items) => {
            if key != "outcomes" && key != "transcript" && items.len() > MAX_LIST {
                let left = items.len() - MAX_LIST;
                let tail = items.split_off(items.len() - MAX_LIST / 2);
                items.truncate(MAX_LIST / 2);
                if tail.iter().all(Value::is_string) {
                    items.push(Value::String(format!("… ({left} left out)")));
                }
                items.extend(tail);
            }
            items.iter_mut().for_each(|v| bound(v, key));
        }
        Value::Object(fields) => fields.iter_mut().for_each(|(k, v)| bound(v, k)),
        _ => {}
    }
}

/// A transcript of more than [`MAX_STEPS`] steps keeps its first and last ones, with a step that
/// says how many were left out between them.
fn bound_transcript(mut o: Outcome) -> Outcome {
    if o.transcript.len() > MAX_STEPS {
        let left = o.transcript.len() - MAX_STEPS;
        let tail = o.transcript.split_off(o.transcript.len() - MAX_STEPS / 5);
        o.transcript.truncate(MAX_STEPS - MAX_STEPS / 5);
        // On the lane of the step before it: a diagram draws no lane of its own for it.
        let (at, client) = o.transcript.last().map_or((Duration::ZERO, String::new()), |e| (e.at, e.client.clone()));
        let step = format!("… ({left} steps left out)");
        o.transcript.push(Event { at, took: Duration::ZERO, client, step, ok: true, fact: Fact::Nothing });
        o.transcript.extend(tail);
    }
    o
}

#[derive(Serialize, Deserialize)]
struct JsonReport<'a> {
    format_version: u32,
    #[serde(default)]
    passed: usize,
    #[serde(default)]
    failed: usize,
    #[serde(default)]
    flaky: usize,
    #[serde(default)]
    skipped: usize,
    /// What ran, e.g. `16 scenarios against the built-in server (sequential) over tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<Cow<'a, str>>,
    /// The command line that made this report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command_line: Option<Cow<'a, str>>,
    /// The run's wall time (start-up and probes included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wall_ms: Option<f64>,
    outcomes: Vec<JsonOutcome<'a>>,
}

fn one() -> u32 {
    1
}

#[derive(Serialize, Deserialize)]
struct JsonOutcome<'a> {
    scenario: Cow<'a, str>,
    #[serde(default)]
    about: Cow<'a, str>,
    transport: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    target: Cow<'a, str>,
    /// `pass`, `fail`, `flaky` or `skip`.
    result: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    duration_ms: f64,
    #[serde(default = "one")]
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repro: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    program_output: Cow<'a, [String]>,
    #[serde(default)]
    failure: Option<JsonFailure<'a>>,
    #[serde(default)]
    transcript: Vec<JsonEvent<'a>>,
}

#[derive(Serialize, Deserialize)]
struct JsonFailure<'a> {
    client: Cow<'a, str>,
    step_index: usize,
    step: Cow<'a, str>,
    cause: Cause,
    /// The cause, the fact and the fix in words, for people reading the file (not read back).
    #[serde(default, skip_deserializing)]
    title: &'static str,
    #[serde(default, skip_deserializing)]
    message: String,
    #[serde(default, skip_deserializing)]
    fix: &'static str,
    fact: Cow<'a, Fact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<Cow<'a, TargetEnd>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_line: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct JsonEvent<'a> {
    at_ms: f64,
    #[serde(default)]
    took_ms: f64,
    client: Cow<'a, str>,
    step: Cow<'a, str>,
    ok: bool,
    /// The fact in words (not read back).
    #[serde(default, skip_deserializing)]
    note: String,
    fact: Cow<'a, Fact>,
}

/// Milliseconds with three decimals: whole microseconds.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A duration as every report shows it: rounded to the microsecond, as JSON keeps it.
pub fn to_micros(d: Duration) -> Duration {
    Duration::from_micros((d.as_secs_f64() * 1e6).round() as u64)
}

fn duration(ms: f64, what: &str) -> Result<Duration, String> {
    if !ms.is_finite() || !(0.0..1e12).contains(&ms) {
        return Err(format!("{what} is {ms}, not a number of milliseconds"));
    }
    Ok(Duration::from_micros((ms * 1e3).round() as u64))
}

fn json_report<'a>(outcomes: &'a [Outcome], meta: &'a ReportMeta) -> JsonReport<'a> {
    let t = Totals::of(outcomes);
    let b = |s: &'a str| Cow::Borrowed(s);
    JsonReport {
        format_version: FORMAT_VERSION,
        passed: t.passed,
        failed: t.failed,
        flaky: t.flaky,
        skipped: t.skipped,
        title: meta.title.as_deref().map(b),
        command_line: meta.command_line.as_deref().map(b),
        wall_ms: meta.wall.map(ms),
        outcomes: outcomes
            .iter()
            .map(|o| JsonOutcome {
                scenario: b(&o.scenario),
                about: b(&o.about),
                transport: b(o.transport.name()),
                model: o.model.map(|m| b(m.name())),
                target: b(&o.target),
                result: b(o.verdict.name()),
                skip_reason: match &o.verdict {
                    Verdict::Skip(why) => Some(b(why)),
                    _ => None,
                },
                duration_ms: ms(o.duration),
                attempts: o.attempts,
                repro: o.repro.as_deref().map(b),
                code: o.code.as_deref().map(b),
                program_output: Cow::Borrowed(&o.program_output),
                failure: o.failure.as_ref().map(|f| JsonFailure {
                    client: b(&f.client),
                    step_index: f.step_index,
                    step: b(&f.step),
                    cause: f.cause,
                    title: f.cause.title(),
                    message: f.message(),
                    fix: f.cause.fix(),
                    fact: Cow::Borrowed(&f.fact),
                    end: f.end.as_ref().map(Cow::Borrowed),
                    error_line: f.error_line.as_deref().map(b),
                }),
                transcript: o
                    .transcript
                    .iter()
                    .map(|e| JsonEvent {
                        at_ms: ms(e.at),
                        took_ms: ms(e.took),
                        client: b(&e.client),
                        step: b(&e.step),
                        ok: e.ok,
                        note: e.fact.to_string(),
                        fact: Cow::Borrowed(&e.fact),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn outcome(o: JsonOutcome) -> Result<Outcome, String> {
    let verdict = match &*o.result {
        "pass" => Verdict::Pass,
        "fail" => Verdict::Fail,
        "flaky" => Verdict::Flaky,
        "skip" => Verdict::Skip(o.skip_reason.map(Cow::into_owned).unwrap_or_default()),
        other => return Err(format!("result `{other}` is not pass, fail, flaky or skip")),
    };
    let transcript = o
        .transcript
        .into_iter()
        .map(|e| {
            Ok(Event {
                at: duration(e.at_ms, "at_ms")?,
                took: duration(e.took_ms, "took_ms")?,
                client: e.client.into_owned(),
                step: e.step.into_owned(),
                ok: e.ok,
                fact: e.fact.into_owned(),
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Outcome {
        scenario: o.scenario.into_owned(),
        about: o.about.into_owned(),
        transport: o.transport.parse()?,
        model: o.model.map(|m| m.parse()).transpose()?,
        target: o.target.into_owned(),
        verdict,
        failure: o.failure.map(|f| Failure {
            client: f.client.into_owned(),
            step_index: f.step_index,
            step: f.step.into_owned(),
            fact: f.fact.into_owned(),
            end: f.end.map(Cow::into_owned),
            error_line: f.error_line.map(Cow::into_owned),
            cause: f.cause,
        }),
        duration: duration(o.duration_ms, "duration_ms")?,
        transcript,
        attempts: o.attempts,
        repro: o.repro.map(Cow::into_owned),
        code: o.code.map(Cow::into_owned),
        program_output: o.program_output.into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_shapes_are_one_line_errors() {
        for (input, want) in [
            (&b"not json"[..], "expected ident"),
            (br#"{"outcomes": []}"#, "format_version is none; this sockcheck reads version 2"),
            (br#"{"format_version": 1, "outcomes": []}"#, "format_version is 1"),
            (br#"{"format_version": 2, "outcomes": 3}"#, "invalid type"),
            (br#"{"format_version": 2, "outcomes": [{"scenario": "x", "transport": "sctp", "result": "pass"}]}"#, "unknown transport"),
            (br#"{"format_version": 2, "outcomes": [{"scenario": "x", "transport": "tcp", "result": "won"}]}"#, "result `won`"),
            (br#"{"format_version": 2, "outcomes": [{"scenario": "x", "transport": "tcp", "result": "pass", "duration_ms": -1}]}"#, "-1"),
        ] {
            let e = read_json(input).unwrap_err();
            assert!(e.contains(want) && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_long_transcript_keeps_its_first_and_last_steps_and_says_how_many_were_left_out() {
        let step = |i: u64| Event {
            at: Duration::from_millis(i),
            took: Duration::ZERO,
            client: format!("c{}", i % 2),
            step: format!("s{i}"),
            ok: true,
            fact: Fact::Nothing,
        };
        let mut o = Outcome::new("s", "", crate::addr::Transport::Tcp, "target".into());
        o.transcript = (0..5000).map(step).collect();
        let kept = bound_transcript(o).transcript;
        let steps: Vec<&str> = kept.iter().map(|e| e.step.as_str()).collect();
        assert_eq!(steps.len(), MAX_STEPS + 1);
        assert_eq!(steps[..2], ["s0", "s1"]);
        assert_eq!(steps[798..803], ["s798", "s799", "… (4000 steps left out)", "s4800", "s4801"]);
        assert_eq!(steps[MAX_STEPS], "s4999");
        // The step that says so is on the lane, and at the time, of the step before it.
        assert_eq!((kept[800].client.as_str(), kept[800].at), ("c1", Duration::from_millis(799)));

        let mut short = Outcome::new("s", "", crate::addr::Transport::Tcp, "target".into());
        short.transcript = (0..MAX_STEPS as u64).map(step).collect();
        assert_eq!(bound_transcript(short).transcript.len(), MAX_STEPS, "a transcript within the bound is kept whole");
    }
}
