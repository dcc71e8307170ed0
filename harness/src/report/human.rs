//! The human report: a table as outcomes arrive, then each failure with its transcript.

use std::io::{self, Write};

use super::{format_duration, summary_line, Outcome, Verdict};

/// The transport column: as wide as the longest transport name (`abstract-dgram`).
const TRANSPORT_WIDTH: usize = 14;

/// The human report: a table as outcomes arrive, then each failure with its transcript.
pub struct HumanReport<W: Write> {
    out: W,
    color: bool,
    name_width: usize,
}

impl<W: Write> HumanReport<W> {
    /// A report whose name column fits these scenario names.
    pub fn with_names<'a>(out: W, color: bool, names: impl Iterator<Item = &'a str>) -> Self {
        let name_width = names.map(str::len).max().unwrap_or(8).max(8);
        HumanReport { out, color, name_width }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// `sockcheck COMMAND: WHAT`, then the table's column names.
    pub fn header(&mut self, command: &str, what: &str) -> io::Result<()> {
        writeln!(self.out, "sockcheck {command}: {what}\n")?;
        writeln!(
            self.out,
            "{:<w$}  {:<t$}  {:<10}  {:<6}  {:>8}",
            "SCENARIO",
            "TRANSPORT",
            "MODEL",
            "RESULT",
            "TIME",
            w = self.name_width,
            t = TRANSPORT_WIDTH
        )?;
        self.out.flush()
    }

    /// The table's row of one outcome, printed as it arrives.
    pub fn row(&mut self, o: &Outcome) -> io::Result<()> {
        let result = match &o.verdict {
            Verdict::Pass => self.paint("32", "pass  "),
            Verdict::Fail => self.paint("31;1", "FAIL  "),
            Verdict::Flaky => self.paint("33;1", "flaky "),
            Verdict::Skip(_) => self.paint("33", "skip  "),
        };
        let time = if matches!(o.verdict, Verdict::Skip(_)) { "-".to_string() } else { format_duration(o.duration) };
        // The target is named once, in the header; a row says what differs between runs of one
        // scenario: its transport and the server's model.
        let model = o.model.map_or("-", |m| m.name());
        let mut line = format!(
            "{:<w$}  {:<t$}  {:<10}  {result}  {time:>8}",
            o.scenario,
            o.transport.name(),
            model,
            w = self.name_width,
            t = TRANSPORT_WIDTH
        );
        if let Verdict::Skip(why) = &o.verdict {
            line.push_str(&format!("  ({why})"));
        }
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    /// The failures' reports, the summary line, and the run's wall time when known.
    pub fn finish(&mut self, outcomes: &[Outcome], wall: Option<std::time::Duration>) -> io::Result<()> {
        for o in outcomes.iter().filter(|o| o.failed() || o.flaky()) {
            writeln!(self.out)?;
            write!(self.out, "{}", o.report())?;
        }
        let summary = summary_line(outcomes);
        let failed = outcomes.iter().any(|o| o.failed());
        let summary = if failed { self.paint("31;1", &summary) } else { self.paint("32", &summary) };
        writeln!(self.out, "\n{summary}")?;
        if let Some(wall) = wall {
            writeln!(self.out, "finished in {} (wall time)", format_duration(wall))?;
        }
        self.out.flush()
    }
}
