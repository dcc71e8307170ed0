//! The table, progress line and report file around one run of `check` or `check-client`.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use super::{write_report_with, Format, HumanReport, Outcome, Progress, ReportMeta};
use crate::addr::Transport;
use crate::error::{Error, Result};

/// Told of each scenario as it starts and as it ends.
pub trait Observer {
    /// A scenario starts over `transport`.
    fn started(&mut self, _scenario: &str, _transport: Transport) {}
    /// A scenario has its outcome.
    fn finished(&mut self, _outcome: &Outcome) {}
}

/// Nobody is watching.
impl Observer for () {}

/// How a run is reported: `--format`, `--output`, `--verbose`.
#[derive(Clone, Debug)]
pub struct ReportOpts {
    /// Written to `output`, or to stdout without one.
    pub format: Format,
    /// `--output`: the file the report goes to, if any.
    pub output: Option<PathBuf>,
    /// Print every scenario's transcript, not only the failures'.
    pub verbose: bool,
    /// The command line that ran, for the reports that show it (JSON, HTML).
    pub command_line: Option<String>,
    /// The subcommand that runs (`check`, `check-client`), for the table's header.
    pub command: &'static str,
}

impl ReportOpts {
    /// The output file, created before anything runs: a bad path is a usage error, not a report
    /// lost at the end.
    pub fn create_output(&self) -> Result<Option<std::fs::File>> {
        let Some(path) = &self.output else { return Ok(None) };
        let file =
            std::fs::File::create(path).map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(file))
    }
}

/// Reports a run as it goes: the human table on stdout (unless a machine format goes there
/// alone), a progress line on a terminal's stderr, and the report in `format` at the end.
pub struct Reporter {
    opts: ReportOpts,
    output: Option<std::fs::File>,
    table: bool,
    human: HumanReport<io::StdoutLock<'static>>,
    progress: Option<Progress>,
    write_err: Option<io::Error>,
    meta: ReportMeta,
}

impl Reporter {
    /// Reports to `output` (from [`ReportOpts::create_output`]); prints the header: `what` ran.
    pub fn open<'a>(
        opts: ReportOpts,
        output: Option<std::fs::File>,
        names: impl Iterator<Item = &'a str>,
        what: &str,
    ) -> Result<Reporter> {
        let table = output.is_some() || opts.format == Format::Human;
        let stdout = io::stdout();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let mut human = HumanReport::with_names(stdout.lock(), color, names);
        if table {
            human.header(opts.command, what)?;
        }
        let progress = io::stderr().is_terminal().then(Progress::start);
        let meta = ReportMeta { title: Some(what.to_string()), command_line: opts.command_line.clone(), wall: None };
        Ok(Reporter { opts, output, table, human, progress, write_err: None, meta })
    }

    /// The end of the run: failures' transcripts, the summary, the report file. True when every
    /// scenario passed or was skipped.
    pub fn finish(mut self, outcomes: &[Outcome]) -> Result<bool> {
        if let Some(p) = &self.progress {
            p.done();
        }
        if let Some(e) = self.write_err.take() {
            return Err(Error::write(None, e));
        }
        self.meta.wall = Some(super::wall_time());
        if self.table {
            if self.opts.verbose {
                for o in outcomes.iter().filter(|o| !o.failed()) {
                    println!("\n{}", o.report());
                }
            }
            self.human.finish(outcomes, self.meta.wall).map_err(|e| Error::write(None, e))?;
        }
        drop(self.human);
        let written = match self.output.take() {
            Some(mut file) => write_report_with(self.opts.format, outcomes, &self.meta, &mut file),
            None if self.opts.format != Format::Human => {
                let mut out = io::stdout().lock();
                write_report_with(self.opts.format, outcomes, &self.meta, &mut out).and_then(|()| out.flush())
            }
            None => Ok(()),
        };
        written.map_err(|e| Error::write(self.opts.output.as_deref(), e))?;
        Ok(!outcomes.iter().any(|o| o.failed()))
    }
}

impl Observer for Reporter {
    fn started(&mut self, scenario: &str, transport: Transport) {
        if let Some(p) = &self.progress {
            p.begin(format!("{scenario} over {transport}"));
        }
    }

    fn finished(&mut self, outcome: &Outcome) {
        if let Some(p) = &self.progress {
            p.end();
        }
        if self.table {
            if let Err(e) = self.human.row(outcome) {
                self.write_err.get_or_insert(e);
            }
        }
    }
}
