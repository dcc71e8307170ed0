//! The one engine that plays scenarios: checking a server and checking a client are the same
//! machine with different step vocabularies.
//!
//! A [`Play`] is one scenario over one transport against one subject (a server [`Target`], or a
//! client command). [`Engine::run`] starts it, runs it with a deadline on every step, asks the
//! subject how it is afterwards and turns all that into an [`Outcome`] with its transcript; every
//! outcome of every direction is made there and nowhere else.
//!
//! # Layout
//! - this file: [`Engine`], [`Play`], [`Transcript`], [`RunOpts`], the check loops.
//! - [`stream`]: server scenarios: sockcheck plays the clients ([`ServerPlay`]).
//! - `datagram`: the datagram steps of server scenarios, played for [`stream`]'s runner.
//! - [`client`]: client scenarios: sockcheck plays the server and types into the client
//!   ([`ClientPlay`]).
//!
//! [`Target`]: crate::target::Target

// A step's result is its fact either way, and facts carry the bytes around a difference: large
// by value, made once per step, never in a hot loop.
#![allow(clippy::result_large_err)]

use std::io;
use std::time::{Duration, Instant};

use crate::addr::Transport;
use crate::facts::{Fact, TargetEnd};
use crate::proto::Transform;
use crate::report::{Event, Failure, Observer, Outcome, Verdict};
use crate::scenario::{Mode, Scenario};
use crate::target::{AddressTarget, ReferenceTarget, SpawnOpts, SpawnTarget, Target};

pub mod client;
mod datagram;
pub mod stream;

pub use client::{ClientCommand, ClientOpts, ClientPlay};
pub use stream::ServerPlay;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct RunOpts {
    /// Default deadline of a step (large replies get more: see [`RunOpts::reply_deadline`]).
    pub step_timeout: Duration,
    /// Default deadline of a connect step.
    pub connect_timeout: Duration,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts { step_timeout: Duration::from_secs(5), connect_timeout: Duration::from_secs(5) }
    }
}

impl RunOpts {
    /// The default deadline for a whole reply of `len` bytes: the step timeout plus a second per
    /// 256 KiB, so a slow but steady server (a script doing `recv(1024)` on a loaded machine) is not
    /// failed for being slow. A reply that stalls (no byte for `step_timeout`) fails long before.
    pub fn reply_deadline(&self, len: usize) -> Duration {
        self.step_timeout + Duration::from_secs((len >> 18) as u64)
    }
}

/// What a step saw: `Ok` when that is what the scenario asks for, `Err` when it fails the step.
pub type StepResult = Result<Fact, Fact>;

/// The transcript of one scenario as it is played.
#[derive(Debug)]
pub struct Transcript {
    t0: Instant,
    events: Vec<Event>,
}

impl Transcript {
    /// An empty transcript whose clock starts now.
    pub fn new() -> Self {
        Transcript { t0: Instant::now(), events: vec![] }
    }

    /// An empty transcript on the same clock, for steps played on another task.
    pub fn fork(&self) -> Self {
        Transcript { t0: self.t0, events: vec![] }
    }

    /// Add another transcript's events, keeping time order.
    pub fn merge(&mut self, other: Transcript) {
        self.events.extend(other.events);
        self.events.sort_by_key(|e| e.at);
    }

    /// A step of `who` that started at `started` ended with `result`.
    pub fn record(&mut self, who: &str, step: impl Into<String>, started: Instant, result: &StepResult) {
        let (ok, fact) = match result {
            Ok(f) => (true, f.clone()),
            Err(f) => (false, f.clone()),
        };
        self.events.push(Event {
            at: started.saturating_duration_since(self.t0),
            took: started.elapsed(),
            client: who.to_string(),
            step: step.into(),
            ok,
            fact,
        });
    }

    /// The failure of the step just recorded.
    pub fn fail(&self, who: &str, step: impl Into<String>, fact: Fact) -> Failure {
        Failure::new(who, self.events.len(), step, fact)
    }

    /// How many steps are recorded.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no step is recorded yet.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// When the transcript's clock started (the play's start).
    pub fn started(&self) -> Instant {
        self.t0
    }

    /// The recorded steps, in time order.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

/// One scenario over one transport against one subject, ready to be played.
pub trait Play {
    /// The scenario's name and description.
    fn scenario(&self) -> (&str, &str);
    /// The transport the scenario is played over.
    fn transport(&self) -> Transport;
    /// The serving model of the subject, when it has a known one.
    fn model(&self) -> Option<Mode> {
        None
    }
    /// The subject in one line, e.g. `built-in server (sequential, upper)`.
    fn subject(&self) -> String;
    /// Why this play cannot run here, if it cannot.
    fn skip_reason(&self) -> Option<String> {
        None
    }
    /// Start the subject and play every step, recording each in `log`.
    fn play(&mut self, engine: &Engine, log: &mut Transcript) -> Result<(), Failure>;
    /// After the play, with everything it opened closed: how the subject ended, if it did.
    /// `after_failure`: the play failed, perhaps because the subject is dying right now.
    fn health(&mut self, after_failure: bool) -> Option<TargetEnd> {
        let _ = after_failure;
        None
    }
    /// What the subject sends on a connection before it is asked (asked only after a failure).
    fn greeting(&self) -> Option<Vec<u8>> {
        None
    }
    /// What the program under test wrote during the play (stderr, then stdout), as report lines.
    fn program_output(&self) -> Vec<String> {
        vec![]
    }
}

/// Plays scenarios on runtimes of its own.
pub struct Engine {
    /// The played clients of a scenario, all on the thread that runs it: a step hands bytes to a
    /// writer task without waking another thread, which costs more than the step on a VM.
    rt: tokio::runtime::Runtime,
    /// What must run while that thread blocks (the server played for a client check).
    background: std::sync::OnceLock<tokio::runtime::Runtime>,
    opts: RunOpts,
}

impl Engine {
    /// An engine with `opts` and a runtime of its own (a second one is made when first needed).
    pub fn new(opts: RunOpts) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Engine { rt, background: std::sync::OnceLock::new(), opts })
    }

    /// The engine's settings.
    pub fn opts(&self) -> &RunOpts {
        &self.opts
    }

    /// The default deadline of the steps played from now on.
    pub fn set_step_timeout(&mut self, d: Duration) {
        self.opts.step_timeout = d;
    }

    /// Run a future to completion on the engine's thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A runtime whose tasks go on while the engine's thread blocks.
    pub fn background(&self) -> io::Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.background.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        Ok(self.background.get_or_init(|| rt))
    }

    /// Play one scenario; the only place an [`Outcome`] is made.
    pub fn run(&self, play: &mut dyn Play) -> Outcome {
        let (name, about) = play.scenario();
        let mut outcome = Outcome::new(name, about, play.transport(), play.subject());
        outcome.model = play.model();
        if let Some(why) = play.skip_reason() {
            outcome.verdict = Verdict::Skip(why);
            return outcome;
        }
        let mut log = Transcript::new();
        let result = play.play(self, &mut log);
        let health = play.health(result.is_err());
        outcome.duration = log.started().elapsed();
        let events = log.len();
        outcome.transcript = log.into_events();
        let failure = match (result, &health) {
            (Ok(()), None) => None,
            (Ok(()), Some(end)) => {
                Some(Failure::new("target", events, "(after the scenario)", Fact::TargetEnded { end: end.clone() }))
            }
            (Err(f), _) => Some(f),
        };
        if let Some(mut f) = failure {
            outcome.program_output = play.program_output();
            if health.is_some() {
                f.end = health;
            }
            f.error_line = crate::facts::error_line(&outcome.program_output);
            // Whether the server greets matters only for wrong bytes at the start of a connection.
            let at_start = match f.fact.inner() {
                Fact::WrongReply { diff } => diff.start == 0,
                Fact::MoreThanReply { at, .. } => *at <= 4096,
                _ => false,
            };
            f.classify(if at_start { play.greeting() } else { None });
            outcome.verdict = Verdict::Fail;
            outcome.failure = Some(f);
        }
        outcome
    }

    /// A server scenario against a target.
    pub fn check(&self, scenario: &Scenario, target: &mut dyn Target) -> Outcome {
        self.run(&mut ServerPlay::new(scenario, target))
    }

    /// A client scenario with a client command over a transport.
    pub fn check_client(
        &self,
        scenario: &client::ClientScenario,
        cmd: &ClientCommand,
        transport: Transport,
        opts: &ClientOpts,
    ) -> Outcome {
        self.run(&mut ClientPlay::new(scenario, cmd, transport, opts))
    }

    /// [`Engine::run`], with `observer` told before and after.
    pub fn run_observed(&self, play: &mut dyn Play, observer: &mut dyn Observer) -> Outcome {
        let (name, _) = play.scenario();
        observer.started(name, play.transport());
        let outcome = self.run(play);
        observer.finished(&outcome);
        outcome
    }
}

/// Keep the items whose names contain any of `filters` (all when empty).
pub fn select<T>(items: Vec<T>, filters: &[String], name: impl Fn(&T) -> &str) -> Vec<T> {
    if filters.is_empty() {
        return items;
    }
    items.into_iter().filter(|s| filters.iter().any(|f| name(s).contains(f.as_str()))).collect()
}

/// Which servers a check runs against.
pub enum TargetSpec {
    /// The built-in server, fresh for every scenario, for each transport and model listed.
    Reference {
        /// The transports to run over.
        transports: Vec<Transport>,
        /// The serving models to run.
        models: Vec<Mode>,
        /// What the built-in server does to bytes.
        transform: Transform,
    },
    /// A command, started afresh on a port or path of its own for every scenario: whatever one
    /// scenario did to it (or a port it could not bind again) is not the next one's problem.
    Spawn(SpawnOpts),
    /// A server that is already running, shared by every scenario.
    Address(AddressTarget),
}

/// How a check runs.
#[derive(Clone, Debug)]
pub struct CheckOpts {
    /// The engine's settings (step and connect deadlines).
    pub run: RunOpts,
    /// Scenarios run at once, each against a target of its own (1: one after another, in order).
    pub jobs: usize,
    /// A failed scenario runs again up to this many times, against a fresh target; one that then
    /// passes is [`Verdict::Flaky`].
    pub retries: u32,
}

impl Default for CheckOpts {
    fn default() -> Self {
        CheckOpts { run: RunOpts::default(), jobs: 1, retries: 0 }
    }
}

/// The number of CPUs: the default of `--jobs`.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One scenario over one transport (and model) to run.
struct Job<'a, S> {
    scenario: &'a S,
    transport: Transport,
    model: Option<Mode>,
}

/// Run every server scenario against the targets.
pub fn check_servers(
    scenarios: &[Scenario],
    spec: TargetSpec,
    opts: CheckOpts,
    observer: &mut dyn Observer,
) -> io::Result<Vec<Outcome>> {
    let jobs: Vec<Job<'_, Scenario>> = match &spec {
        TargetSpec::Reference { transports, models, .. } => transports
            .iter()
            // One socket serves every datagram client: the sequential model is the only one.
            .flat_map(|&transport| {
                models
                    .iter()
                    .filter(move |&&m| !transport.is_datagram() || m == Mode::Sequential)
                    .map(move |&model| (transport, model))
            })
            .flat_map(|(transport, model)| {
                // The built-in server is run in every model it has: a scenario for the other
                // model (or transport) is covered there, not skipped here.
                scenarios
                    .iter()
                    .filter(move |s| s.skip_reason(transport, Some(model), true).is_none())
                    .map(move |scenario| Job { scenario, transport, model: Some(model) })
            })
            .collect(),
        TargetSpec::Spawn(o) => {
            let transport =
                crate::target::placeholders::transport_of(&o.command, o.transport).map_err(io::Error::other)?;
            scenarios.iter().map(|scenario| Job { scenario, transport, model: o.model }).collect()
        }
        TargetSpec::Address(a) => {
            let transport = a.endpoint.transport();
            scenarios.iter().map(|scenario| Job { scenario, transport, model: a.model }).collect()
        }
    };
    let target = |job: &Job<'_, Scenario>| -> Result<Box<dyn Target>, String> {
        Ok(match &spec {
            TargetSpec::Reference { transform, .. } => Box::new(
                ReferenceTarget::new(job.transport, job.model.unwrap_or_default(), *transform)
                    .map_err(|e| e.to_string())?,
            ),
            TargetSpec::Spawn(o) => Box::new(SpawnTarget::new(o.clone()).map_err(|e| e.to_string())?),
            TargetSpec::Address(a) => Box::new(a.clone()),
        })
    };
    let play = |engine: &Engine, job: &Job<'_, Scenario>| match target(job) {
        Ok(mut t) => engine.check(job.scenario, t.as_mut()),
        Err(e) => {
            let (name, about) = (job.scenario.name(), job.scenario.description());
            let mut o = Outcome::new(name, about, job.transport, "target".into());
            o.verdict = Verdict::Fail;
            o.failure = Some(Failure::new("sockcheck", 0, "start", Fact::Setup { what: e }));
            o
        }
    };
    run_jobs(&jobs, &opts, observer, |s| s.name(), play)
}

/// Run every client scenario with the client over each transport it runs over.
pub fn check_clients(
    scenarios: &[client::ClientScenario],
    command: impl Fn(Transport) -> ClientCommand,
    transports: &[Transport],
    client_opts: ClientOpts,
    opts: CheckOpts,
    observer: &mut dyn Observer,
) -> io::Result<Vec<Outcome>> {
    let jobs: Vec<Job<'_, client::ClientScenario>> = transports
        .iter()
        .flat_map(|&transport| {
            scenarios.iter().filter(move |s| s.runs_over(transport)).map(move |scenario| Job {
                scenario,
                transport,
                model: None,
            })
        })
        .collect();
    let commands: Vec<(Transport, ClientCommand)> = transports.iter().map(|&t| (t, command(t))).collect();
    let play = |engine: &Engine, job: &Job<'_, client::ClientScenario>| {
        let cmd = &commands.iter().find(|(t, _)| *t == job.transport).expect("a command per transport").1;
        engine.check_client(job.scenario, cmd, job.transport, &client_opts)
    };
    run_jobs(&jobs, &opts, observer, |s| s.name(), play)
}

/// Run `job`, and again up to `retries` times while it fails.
fn with_retries(retries: u32, mut attempt: impl FnMut() -> Outcome) -> Outcome {
    let first = attempt();
    if !first.failed() {
        return first;
    }
    for n in 2..=retries + 1 {
        let mut again = attempt();
        if !again.failed() {
            again.verdict = Verdict::Flaky;
            again.failure = first.failure;
            again.attempts = n;
            return again;
        }
    }
    Outcome { attempts: retries + 1, ..first }
}

/// Run the jobs on `opts.jobs` threads, each with an engine of its own; the observer hears of
/// them in order (a job's end is reported once every job before it has ended).
fn run_jobs<S: Sync>(
    jobs: &[Job<'_, S>],
    opts: &CheckOpts,
    observer: &mut dyn Observer,
    name: impl Fn(&S) -> &str,
    play: impl Fn(&Engine, &Job<'_, S>) -> Outcome + Sync,
) -> io::Result<Vec<Outcome>> {
    let workers = opts.jobs.clamp(1, jobs.len().max(1));
    if workers == 1 {
        let engine = Engine::new(opts.run.clone())?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            observer.started(name(job.scenario), job.transport);
            let outcome = with_retries(opts.retries, || play(&engine, job));
            observer.finished(&outcome);
            outcomes.push(outcome);
        }
        return Ok(outcomes);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, io::Result<Outcome>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tx, next, play) = (tx.clone(), &next, &play);
            scope.spawn(move || {
                let engine = Engine::new(opts.run.clone());
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { return };
                    let outcome = match &engine {
                        Ok(engine) => Ok(with_retries(opts.retries, || play(engine, job))),
                        Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                    };
                    if tx.send((i, outcome)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut done: Vec<Option<Outcome>> = (0..jobs.len()).map(|_| None).collect();
        let mut reported = 0;
        if let Some(job) = jobs.first() {
            observer.started(name(job.scenario), job.transport);
        }
        for (i, outcome) in rx {
            done[i] = Some(outcome?);
            while let Some(Some(o)) = done.get(reported) {
                observer.finished(o);
                reported += 1;
                if let Some(job) = jobs.get(reported) {
                    observer.started(name(job.scenario), job.transport);
                }
            }
        }
        Ok(done.into_iter().map(|o| o.expect("every job ran")).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcomes of one scenario: `fails[i]` says whether attempt `i` fails.
    fn attempts(fails: &[bool]) -> impl FnMut() -> Outcome + '_ {
        let mut i = 0;
        move || {
            let mut o = Outcome::new("s", "", Transport::Tcp, "target".into());
            if fails[i] {
                o.verdict = Verdict::Fail;
                o.failure = Some(Failure::new("c1", i, format!("attempt {i}"), Fact::Reset));
            }
            i += 1;
            o
        }
    }

    #[test]
    fn retries_count_the_attempts_and_keep_the_first_failure() {
        let once = with_retries(2, attempts(&[false]));
        assert_eq!((once.verdict, once.attempts), (Verdict::Pass, 1));

        let never = with_retries(2, attempts(&[true, true, true]));
        assert_eq!((never.verdict, never.attempts), (Verdict::Fail, 3));
        assert_eq!(never.failure.map(|f| f.step), Some("attempt 0".into()));

        let flaky = with_retries(2, attempts(&[true, true, false]));
        assert_eq!((flaky.verdict, flaky.attempts), (Verdict::Flaky, 3));
        assert_eq!(flaky.failure.map(|f| f.step), Some("attempt 0".into()), "the failure is kept");
    }
}
