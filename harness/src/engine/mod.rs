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
//! - [`client`]: client scenarios: sockcheck plays the server and types into the client
//!   ([`ClientPlay`]).
//!
//! [`Target`]: crate::target::Target

use std::io;
use std::time::{Duration, Instant};

use crate::addr::Transport;
use crate::proto::Transform;
use crate::report::{Event, Failure, Observer, Outcome, Verdict};
use crate::scenario::{Mode, Scenario};
use crate::target::{ReferenceTarget, Target};

pub mod client;
pub mod stream;

pub use client::{ClientCommand, ClientOpts, ClientPlay};
pub use stream::ServerPlay;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct RunOpts {
    /// Default deadline of a step (large replies get more: see [`RunOpts::reply_deadline`]).
    pub step_timeout: Duration,
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

/// What a step did (`Ok`: a note for the transcript) or why it failed.
pub type StepResult = Result<String, String>;

/// The transcript of one scenario as it is played.
#[derive(Debug)]
pub struct Transcript {
    t0: Instant,
    events: Vec<Event>,
}

impl Transcript {
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
        let (ok, note) = match result {
            Ok(n) => (true, n.clone()),
            Err(e) => (false, e.clone()),
        };
        self.events.push(Event {
            at: started.saturating_duration_since(self.t0),
            took: started.elapsed(),
            client: who.to_string(),
            step: step.into(),
            ok,
            note,
        });
    }

    /// The failure of the step just recorded.
    pub fn fail(&self, who: &str, step: impl Into<String>, message: String) -> Failure {
        Failure { client: who.to_string(), step_index: self.events.len(), step: step.into(), message }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn started(&self) -> Instant {
        self.t0
    }

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
    fn scenario(&self) -> (&str, &str);
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
    /// After the play, with everything it opened closed: `Err` with what happened if the subject
    /// died. `after_failure`: the play failed, perhaps because the subject is dying right now.
    fn health(&mut self, after_failure: bool) -> Result<(), String> {
        let _ = after_failure;
        Ok(())
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
    pub fn new(opts: RunOpts) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Engine { rt, background: std::sync::OnceLock::new(), opts })
    }

    pub fn opts(&self) -> &RunOpts {
        &self.opts
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
        let failure = match (result, health) {
            (Ok(()), Ok(())) => None,
            (Ok(()), Err(e)) => Some(Failure {
                client: "target".into(),
                step_index: events,
                step: "(after the scenario)".into(),
                message: e,
            }),
            (Err(mut f), health) => {
                if let Err(e) = health {
                    f.message.push_str("; ");
                    f.message.push_str(&e);
                }
                Some(f)
            }
        };
        if failure.is_some() {
            outcome.verdict = Verdict::Fail;
            outcome.failure = failure;
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
    Reference { transports: Vec<Transport>, models: Vec<Mode>, transform: Transform },
    /// One target shared by all scenarios (a running address, a spawned command).
    Given(Box<dyn Target>),
}

/// Run every server scenario against the targets.
pub fn check_servers(
    scenarios: &[Scenario],
    spec: TargetSpec,
    opts: RunOpts,
    observer: &mut dyn Observer,
) -> io::Result<Vec<Outcome>> {
    let engine = Engine::new(opts)?;
    let mut outcomes = vec![];
    match spec {
        TargetSpec::Reference { transports, models, transform } => {
            for &transport in &transports {
                for &model in &models {
                    // The built-in server is run in every model it has: a scenario for the other
                    // model (or transport) is covered there, not skipped here.
                    for s in scenarios.iter().filter(|s| s.skip_reason(transport, Some(model), true).is_none()) {
                        let mut target = ReferenceTarget::new(transport, model, transform)?;
                        let mut play = ServerPlay::new(s, &mut target);
                        outcomes.push(engine.run_observed(&mut play, observer));
                    }
                }
            }
        }
        TargetSpec::Given(mut target) => {
            for s in scenarios {
                let outcome = engine.run_observed(&mut ServerPlay::new(s, target.as_mut()), observer);
                // After a failure the next scenario gets a fresh server: whatever state the
                // failure left (a stuck connection, a half-dead process) is not its problem.
                if outcome.failed() && target.controllable() {
                    let _ = target.stop();
                }
                outcomes.push(outcome);
            }
            let _ = target.stop();
        }
    }
    Ok(outcomes)
}

/// Run every client scenario with the client over each transport.
pub fn check_clients(
    scenarios: &[client::ClientScenario],
    command: impl Fn(Transport) -> ClientCommand,
    transports: &[Transport],
    opts: ClientOpts,
    observer: &mut dyn Observer,
) -> io::Result<Vec<Outcome>> {
    let engine = Engine::new(RunOpts { step_timeout: opts.step_timeout, ..RunOpts::default() })?;
    let mut outcomes = vec![];
    for &transport in transports {
        let cmd = command(transport);
        for s in scenarios {
            let mut play = ClientPlay::new(s, &cmd, transport, &opts);
            outcomes.push(engine.run_observed(&mut play, observer));
        }
    }
    Ok(outcomes)
}
