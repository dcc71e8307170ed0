//! `sockcheck explore` and `sockcheck explore-client`, and the cases they save, replayed by
//! `check --replay` and `check-client --replay`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{
    interruptible, nothing_listens, output_writable, probe_spawned, ExploreArgs, ExploreClientArgs, ExploreRunArgs,
};
use crate::engine::{self, ClientCommand, ClientOpts};
use crate::error::{Error, Result};
use crate::explore::regressions::{self, Entry};
use crate::explore::{self, ExploreOpts, Explored, Found, ServerSpec, Subject, Watch};
use crate::report::{Format, Outcome, ReportOpts, Reporter, Verdict};
use crate::scenario::client::ClientScenario;
use crate::scenario::Scenario;
use crate::target::placeholders::{self, shell_quote};
use crate::target::AddressTarget;
use crate::{net, Mode, Transport};

/// The saved cases of `file` for a server check (`client`: false) or a client check.
fn saved(file: &Path, client: bool) -> Result<Vec<Entry>> {
    let entries = regressions::load(file).map_err(Error::Usage)?;
    if !file.exists() {
        return Err(Error::Usage(format!("cannot read {}: no such file", file.display())));
    }
    let entries: Vec<Entry> = entries.into_iter().filter(|e| e.is_client() == client).collect();
    if entries.is_empty() {
        let what = if client { "client" } else { "server" };
        return Err(Error::Usage(format!("{} holds no {what} case", file.display())));
    }
    Ok(entries)
}

/// `check --replay FILE`: the saved server cases as scenarios.
pub fn replayed_scenarios(file: &Path) -> Result<Vec<Scenario>> {
    Ok(saved(file, false)?.iter().map(Entry::scenario).collect())
}

/// `check-client --replay FILE`: the saved client cases as client scenarios.
pub fn replayed_client_scenarios(file: &Path) -> Result<Vec<ClientScenario>> {
    Ok(saved(file, true)?.iter().map(Entry::client_scenario).collect())
}

/// The progress line: on a terminal redrawn in place, elsewhere a line every 10 seconds.
struct Line {
    tty: bool,
    last: Mutex<Option<Instant>>,
}

impl Line {
    fn new() -> Line {
        Line { tty: std::io::stderr().is_terminal(), last: Mutex::new(None) }
    }

    fn clear(&self) {
        if self.tty && self.last.lock().map(|l| l.is_some()).unwrap_or(false) {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Watch for Line {
    fn progress(&self, cases: u64, elapsed: Duration, failures: u64, shrinking: Option<u64>) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let every = if self.tty { Duration::from_millis(200) } else { Duration::from_secs(10) };
        if last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        *last = Some(Instant::now());
        let rate = cases as f64 / elapsed.as_secs_f64().max(1e-3);
        let mut line = format!("explore: {cases} cases, {rate:.1}/s, {failures} failed");
        if let Some(runs) = shrinking {
            line += &format!(", shrinking: {runs} runs");
        }
        if self.tty {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }
}

fn opts(a: &ExploreRunArgs, jobs: usize) -> ExploreOpts {
    let seed = a.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (now.as_nanos() as u64) % 1_000_000_000
    });
    ExploreOpts {
        time: a.time,
        cases: a.cases,
        seed,
        jobs: a.jobs.map_or(jobs, |n| n as usize),
        timeout: a.timeout,
        shrink_time: a.shrink_time,
    }
}

/// What `explore` says before it starts, after the subject: the seed and the limits.
fn plan(opts: &ExploreOpts, file: &Path, saved: usize) -> String {
    let limit = match opts.cases {
        Some(n) => format!("{n} cases or {} s", opts.time.as_secs_f64()),
        None => format!("{} s", opts.time.as_secs_f64()),
    };
    format!(
        "seed {} (again: --seed {}), {limit}, {} job{}; {saved} saved case{} in {}",
        opts.seed,
        opts.seed,
        opts.jobs,
        if opts.jobs == 1 { "" } else { "s" },
        if saved == 1 { "" } else { "s" },
        file.display()
    )
}

/// Everything after the exploration: saving what was found, the outcomes, the report, the
/// figures. True when nothing failed.
struct Ending<'a> {
    reporter: Reporter,
    to_terminal: bool,
    file: &'a Path,
    transport: Transport,
    model: Option<Mode>,
    subject: String,
    /// The replay command without its `--filter NAME`.
    replay: String,
    opts: ExploreOpts,
}

impl Ending<'_> {
    /// The report's header goes out before the exploration (its rows after): the subject, the
    /// plan, and the saved cases for this subject, replayed first.
    fn open(
        report: ReportOpts,
        subject: &str,
        opts: &ExploreOpts,
        file: &Path,
        saved: &[Entry],
        client: bool,
        transport: Transport,
    ) -> Result<(Reporter, bool)> {
        let takes = |e: &&Entry| e.is_client() == client && e.is_datagram() == transport.is_datagram();
        let saved: Vec<&Entry> = saved.iter().filter(takes).collect();
        let what = format!("{subject}\n{}", plan(opts, file, saved.len()));
        let output = report.create_output()?;
        let to_terminal = output.is_some() || report.format == Format::Human;
        let names: Vec<&str> = saved.iter().map(|e| e.name.as_str()).chain(["explore_00000000"]).collect();
        Ok((Reporter::open(report, output, names.into_iter(), &what)?, to_terminal))
    }

    fn finish(self, explored: Explored, line: &Line) -> Result<bool> {
        line.clear();
        let mut outcomes: Vec<Outcome> = vec![];
        for (entry, mut o) in explored.replayed.iter().cloned() {
            o.about = format!("saved in {} (found with cause {})", self.file.display(), entry.cause.name());
            o.repro = Some(format!("{} --filter {}", self.replay, entry.name));
            outcomes.push(o);
        }
        let mut notes = vec![];
        if explored.replayed.iter().any(|(_, o)| o.failed()) {
            notes.push("a saved case still fails: fix it first (nothing new was explored)".to_string());
        } else {
            notes.push(self.figures(&explored));
        }
        // Flaky failures first (exploring went on after each), then the one that ended it.
        for found in explored.flaky.iter().chain(&explored.found) {
            let o = self.found_outcome(&explored, found, &mut notes);
            outcomes.push(o);
        }
        notes.dedup();
        if !explored.flaky.is_empty() {
            let n = explored.flaky.len();
            notes.push(format!(
                "{n} failure{} that no rerun repeated {} reported as flaky; exploring went on after {}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "is" } else { "are" },
                if n == 1 { "it" } else { "each" },
            ));
        }
        if explored.found.is_none() && explored.flaky.is_empty() && !explored.replayed.iter().any(|(_, o)| o.failed()) {
            let mut o = Outcome::new("explore", "", self.transport, self.subject.clone());
            o.model = self.model;
            o.about = format!("{} random cases, none failed", explored.cases);
            o.duration = explored.took;
            outcomes.push(o);
        }
        let (mut reporter, to_terminal) = (self.reporter, self.to_terminal);
        for o in &outcomes {
            crate::report::Observer::finished(&mut reporter, o);
        }
        let passed = reporter.finish(&outcomes)?;
        for note in notes {
            if to_terminal {
                println!("explore: {note}");
            } else {
                eprintln!("explore: {note}");
            }
        }
        Ok(passed && !outcomes.iter().any(|o| o.flaky()))
    }

    /// How much was explored, how fast, and how long a missing reply was waited for.
    fn figures(&self, explored: &Explored) -> String {
        let rate = explored.cases as f64 / explored.took.as_secs_f64().max(1e-3);
        let mut figures = format!(
            "{} cases in {:.1} s ({rate:.1} cases/s), seed {}; {} program start{}",
            explored.cases,
            explored.took.as_secs_f64(),
            self.opts.seed,
            explored.starts,
            if explored.starts == 1 { "" } else { "s" }
        );
        if explored.starts > 0 {
            figures += " (a process serves case after case; a fresh one after each failure)";
        }
        if explored.longest_reply > Duration::ZERO {
            figures += &format!(
                "; replies took up to {}, so a missing one was waited for {} (confirmed with --timeout {})",
                crate::report::format_duration(explored.longest_reply),
                crate::report::format_duration(
                    (explored.longest_reply * 4 + explore::WAIT_FLOOR).min(self.opts.timeout)
                ),
                self.opts.timeout.as_secs_f64()
            );
        }
        if explored.slow_not_failed > 0 {
            figures += &format!("; {} slow replies passed with the full wait", explored.slow_not_failed);
        }
        figures
    }

    /// The outcome of the failure found (shrunk and rerun), saved to the regressions file.
    fn found_outcome(&self, explored: &Explored, found: &Found, notes: &mut Vec<String>) -> Outcome {
        let mut o = found.outcome.clone();
        let (clients, steps, bytes) = found.case.size(self.model);
        let (_, steps_before, bytes_before) = found.original.size(self.model);
        o.about = format!(
            "found after {} cases (seed {}); shrunk from {steps_before} steps ({bytes_before} bytes sent) to \
             {steps} ({bytes} bytes, {clients} client{}) in {} runs ({:.1} s); the shrunk case failed {} of {} \
             reruns",
            found.after_cases.min(explored.cases),
            self.opts.seed,
            if clients == 1 { "" } else { "s" },
            found.shrink_runs,
            found.shrink_time.as_secs_f64(),
            found.reruns_failed,
            explore::RERUNS
        );
        if found.reruns_failed == 0 {
            o.verdict = Verdict::Flaky;
        }
        o.code = Some(found.case.code(&o.scenario, self.model, self.transport.is_datagram()));
        o.repro = Some(format!("{} --filter {}", self.replay, o.scenario));
        let entry = Entry {
            name: o.scenario.clone(),
            cause: found.cause,
            transport: self.transport.name().to_string(),
            model: self.model.map(|m| m.name().to_string()),
            case: found.case.clone(),
        };
        match regressions::save(self.file, &entry) {
            Ok(()) => notes.push(format!("saved to {}: the next explore replays it first", self.file.display())),
            Err(e) => notes.push(format!("not saved: {e}")),
        }
        o
    }
}

/// `sockcheck explore`.
pub fn explore(args: ExploreArgs) -> Result<bool> {
    let file = regressions::path_or_default(args.explore.regressions.as_deref());
    let saved = regressions::load(&file).map_err(Error::Usage)?;
    let report = ReportOpts { command: "explore", ..args.report.opts() };
    output_writable(&report)?;
    let _run = interruptible()?;
    let (spec, transport, model, subject, flags, jobs) = if let Some(command) = &args.addr.spawn {
        let probed = probe_spawned(command, args.transport, args.ready_timeout, args.model, args.transform)?;
        let (transport, model) = (probed.transport, probed.opts.model);
        let flags = format!(" --spawn {}{}", shell_quote(command), transport_flag(command, args.transport));
        (ServerSpec::Spawn(probed.opts), transport, model, probed.describe, flags, engine::default_jobs())
    } else if let Some(endpoint) = args.addr.running() {
        nothing_listens(&endpoint)?;
        let transport = endpoint.transport();
        let flags = format!(" {} {}", super::address_flag(&endpoint), shell_quote(&super::address_text(&endpoint)));
        let target = AddressTarget { endpoint: endpoint.clone(), model: args.model, transform: args.transform };
        (ServerSpec::Address(target), transport, args.model, format!("the server at {endpoint}"), flags, 1)
    } else {
        let transport = args.transport.unwrap_or(Transport::Tcp);
        if let Some(why) = net::transport_unsupported(transport) {
            return Err(Error::Usage(why));
        }
        let mode = if transport.is_datagram() { Mode::Sequential } else { args.model.unwrap_or_default() };
        let flags = format!(" --transport {transport} --model {mode}");
        let subject = format!("the built-in server ({mode}, {}) over {transport}", args.transform);
        (ServerSpec::Reference(mode, args.transform), transport, Some(mode), subject, flags, engine::default_jobs())
    };
    let opts = opts(&args.explore, jobs);
    let (reporter, to_terminal) = Ending::open(report, &subject, &opts, &file, &saved, false, transport)?;
    let mut replay = format!("sockcheck check{flags} --replay {}", shell_quote(&file.display().to_string()));
    if args.transform != crate::Transform::Upper {
        replay += &format!(" --transform {}", args.transform);
    }
    let subject_value = Subject::Server { spec, transport, model };
    let line = Line::new();
    let explored = explore::explore(&subject_value, saved, &opts, &line)?;
    let ending = Ending { reporter, to_terminal, file: &file, transport, model, subject, replay, opts };
    ending.finish(explored, &line)
}

/// ` --transport T` when the command's placeholders do not say it.
fn transport_flag(command: &str, given: Option<Transport>) -> String {
    match (given, placeholders::transport_of(command, None)) {
        (Some(t), Ok(from)) if t != from => format!(" --transport {t}"),
        (Some(t), Err(_)) => format!(" --transport {t}"),
        _ => String::new(),
    }
}

/// `sockcheck explore-client`.
pub fn explore_client(args: ExploreClientArgs) -> Result<bool> {
    let file = regressions::path_or_default(args.explore.regressions.as_deref());
    let saved = regressions::load(&file).map_err(Error::Usage)?;
    let report = ReportOpts { command: "explore-client", ..args.report.opts() };
    output_writable(&report)?;
    let transport = match &args.spawn {
        Some(cmd) => placeholders::transport_of(cmd, args.transport)?,
        None => args.transport.unwrap_or(Transport::Tcp),
    };
    if matches!(transport, Transport::Abstract | Transport::AbstractDgram) {
        return Err(Error::Usage(format!(
            "a client cannot be told an abstract name ({{path}} is a file path): use --transport {} instead of {transport}",
            transport.base()
        )));
    }
    if let Some(why) = net::transport_unsupported(transport) {
        return Err(Error::Usage(why));
    }
    let _run = interruptible()?;
    let (command, subject, mut flags) = match &args.spawn {
        Some(cmd) => {
            (ClientCommand::spawn(cmd), format!("`{cmd}` over {transport}"), format!(" --spawn {}", shell_quote(cmd)))
        }
        None => (
            ClientCommand::reference(&std::env::current_exe()?, transport),
            format!("the built-in client over {transport}"),
            String::new(),
        ),
    };
    flags += &format!(" --transport {transport}");
    if let Some(p) = &args.prompt {
        flags += &format!(" --prompt {}", shell_quote(p));
    }
    if args.stdio != crate::engine::client::ClientStdio::default() {
        flags += &format!(" --stdio {}", args.stdio);
    }
    let opts = opts(&args.explore, engine::default_jobs());
    let (reporter, to_terminal) = Ending::open(report, &subject, &opts, &file, &saved, true, transport)?;
    let replay = format!("sockcheck check-client{flags} --replay {}", shell_quote(&file.display().to_string()));
    let client_opts = ClientOpts { step_timeout: opts.timeout, prompt: args.prompt.clone(), stdio: args.stdio };
    let subject_value = Subject::Client { command, transport, opts: client_opts };
    let line = Line::new();
    let explored = explore::explore(&subject_value, saved, &opts, &line)?;
    let ending = Ending { reporter, to_terminal, file: &file, transport, model: None, subject, replay, opts };
    ending.finish(explored, &line)
}
