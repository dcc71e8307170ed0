//! `sockcheck explore`: property-based testing of any server or client.
//!
//! Random [`Case`]s (proptest strategies in [`gen`], biased toward what programs special-case)
//! become scenarios of the DSL and are played by the same engine as the catalogue, so the oracle
//! is the catalogue's: the echo law for every byte sent, one reply per datagram to its sender,
//! the expected printed line per typed line and the client catalogue's exit rules. A failing case
//! is shrunk with proptest's value trees to the smallest case that still fails **with the same
//! cause**: a smaller case that fails for another reason is another bug, not a simpler form of
//! this one.
//!
//! Cost: a reply that never comes is waited for only as long as this program's replies have been
//! seen to take (times 4, at least [`WAIT_FLOOR`]), and a verdict that rests on such a wait is
//! confirmed with the full `--timeout` before it counts. A server process serves case after case
//! while it stays healthy; it is restarted after a failing case (which may have left it in any
//! state), a crash, or when it stops.
//!
//! # Layout
//! - this file: [`Subject`], [`ExploreOpts`], [`explore`], the workers and the shrinker.
//! - [`case`]: the generated values and their scenarios.
//! - [`gen`]: the strategies.
//! - [`regressions`]: the file of found cases.

pub mod case;
pub mod gen;
pub mod regressions;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

pub use case::Case;
use regressions::Entry;

use crate::engine::{ClientCommand, ClientOpts, Engine, RunOpts};
use crate::facts::{Cause, Fact};
use crate::report::{Failure, Outcome, Verdict};
use crate::target::{AddressTarget, ReferenceTarget, SpawnOpts, SpawnTarget, Target};
use crate::{Mode, Transform, Transport};

/// The least time a step waits for a reply while exploring (a measured wait times 4 is less
/// than this on a fast program; scheduling on a busy machine is not).
pub const WAIT_FLOOR: Duration = Duration::from_millis(250);

/// How many flaky failures (none of whose reruns failed) are reported before the next one ends the
/// exploration as the last would have.
pub const MAX_FLAKY: usize = 3;

/// How many times a shrunk failure is played again to tell a real one from a flaky one.
pub const RERUNS: u32 = 3;

/// Which server to start for each case's process.
pub enum ServerSpec {
    /// The built-in server, in this model.
    Reference(Mode, Transform),
    /// A command started by sockcheck.
    Spawn(SpawnOpts),
    /// A server already running (never restarted).
    Address(AddressTarget),
}

/// What is explored.
pub enum Subject {
    /// A server: sockcheck plays the clients.
    Server {
        /// How to start it.
        spec: ServerSpec,
        /// Its transport.
        transport: Transport,
        /// Its serving model, when known (connections take turns only with a concurrent one).
        model: Option<Mode>,
    },
    /// A client: sockcheck plays the server and types.
    Client {
        /// The command.
        command: ClientCommand,
        /// Its transport.
        transport: Transport,
        /// How it is run (`step_timeout` is set per case).
        opts: ClientOpts,
    },
}

impl Subject {
    fn transport(&self) -> Transport {
        match self {
            Subject::Server { transport, .. } | Subject::Client { transport, .. } => *transport,
        }
    }

    fn strategy(&self) -> proptest::strategy::BoxedStrategy<Case> {
        match self {
            Subject::Client { transport, .. } => gen::client_case(transport.is_datagram()),
            Subject::Server { transport, .. } if transport.is_datagram() => gen::datagram_case(),
            Subject::Server { .. } => gen::stream_case(),
        }
    }

    /// Whether a saved case is one for this subject.
    pub fn takes(&self, e: &Entry) -> bool {
        e.is_client() == matches!(self, Subject::Client { .. }) && e.is_datagram() == self.transport().is_datagram()
    }

    fn target(&self) -> Result<Box<dyn Target>, String> {
        let Subject::Server { spec, transport, .. } = self else { return Err("not a server".into()) };
        Ok(match spec {
            ServerSpec::Reference(mode, transform) => {
                Box::new(ReferenceTarget::new(*transport, *mode, *transform).map_err(|e| e.to_string())?)
            }
            ServerSpec::Spawn(o) => Box::new(SpawnTarget::new(o.clone()).map_err(|e| e.to_string())?),
            ServerSpec::Address(a) => Box::new(a.clone()),
        })
    }
}

/// How an exploration runs.
#[derive(Clone, Debug)]
pub struct ExploreOpts {
    /// Stop generating after this long.
    pub time: Duration,
    /// Stop after this many cases (`None`: until `time`).
    pub cases: Option<u64>,
    /// The seed of every worker's generator.
    pub seed: u64,
    /// Workers, each with a process of its own.
    pub jobs: usize,
    /// The full deadline of a step: what confirms a verdict that rests on a wait.
    pub timeout: Duration,
    /// Stop shrinking after this long (the best case so far is reported).
    pub shrink_time: Duration,
}

/// A failure explore found, shrunk.
#[derive(Debug)]
pub struct Found {
    /// The shrunk case.
    pub case: Case,
    /// Its outcome when played again with the full timeout (transcript, cause).
    pub outcome: Outcome,
    /// The cause it was found and shrunk with.
    pub cause: Cause,
    /// The case as it was first found.
    pub original: Case,
    /// Random cases played when it was found.
    pub after_cases: u64,
    /// Cases played while shrinking.
    pub shrink_runs: u64,
    /// How long shrinking took.
    pub shrink_time: Duration,
    /// Of the [`RERUNS`] reruns of the shrunk case, how many failed with the same cause.
    pub reruns_failed: u32,
}

/// What an exploration did.
#[derive(Debug, Default)]
pub struct Explored {
    /// Saved cases replayed first, with their outcomes.
    pub replayed: Vec<(Entry, Outcome)>,
    /// Random cases played (not counting shrinking).
    pub cases: u64,
    /// How long generating and playing took (not counting shrinking).
    pub took: Duration,
    /// Processes started for the cases (servers: one per worker, and one after each failure).
    pub starts: u64,
    /// Failures that rested on a short wait and passed with the full timeout.
    pub slow_not_failed: u64,
    /// The longest reply seen, which short waits are derived from.
    pub longest_reply: Duration,
    /// What was found.
    pub found: Option<Found>,
    /// Failures found and shrunk that none of their reruns repeated (at most [`MAX_FLAKY`]):
    /// exploring went on after each for a failure that repeats.
    pub flaky: Vec<Found>,
}

/// Told how an exploration goes (the progress line).
pub trait Watch: Sync {
    /// `cases` played so far, `failures` found, `shrinking`: the runs of the shrinker so far.
    fn progress(&self, _cases: u64, _elapsed: Duration, _failures: u64, _shrinking: Option<u64>) {}
}

impl Watch for () {}

/// A verdict that rests on how long a step waited: with a longer wait, it might have passed.
pub fn rests_on_a_wait(fact: &Fact) -> bool {
    match fact {
        Fact::NoReply { .. }
        | Fact::NoDatagramReply { .. }
        | Fact::NotClosed { .. }
        | Fact::ServerGotTooFew { .. }
        | Fact::TooFewDatagrams { .. }
        | Fact::ClientDidNotExit { .. }
        | Fact::ScenarioTimeout { .. } => true,
        Fact::TooFewLines { ended, .. } => !ended,
        Fact::InRepeat { inner, .. } => rests_on_a_wait(inner),
        _ => false,
    }
}

/// A failure that rests on a wait during which something was still happening (part of a reply
/// came, the played server was still writing): a longer wait might have seen it through. One
/// during which nothing happened at all is as clear after a short wait as after a long one.
pub fn was_progressing(fact: &Fact) -> bool {
    match fact {
        Fact::NoReply { got, .. } => *got > 0,
        Fact::TooFewLines { partial, served, .. } => *partial > 0 || served.replied < served.received,
        Fact::ServerGotTooFew { got, .. } | Fact::TooFewDatagrams { got, .. } => *got > 0,
        Fact::InRepeat { inner, .. } => was_progressing(inner),
        _ => false,
    }
}

fn cause_of(o: &Outcome) -> Option<Cause> {
    o.failed().then(|| o.failure.as_ref().map(|f| f.cause)).flatten()
}

/// Shared by the workers.
struct Shared<'a> {
    subject: &'a Subject,
    opts: &'a ExploreOpts,
    started: Instant,
    cases: AtomicU64,
    starts: AtomicU64,
    slow: AtomicU64,
    /// The longest reply seen, in microseconds (0: none yet).
    longest: AtomicU64,
    stop: AtomicBool,
    /// When the failure was found: exploring took this long (shrinking comes after).
    stopped: Mutex<Option<Duration>>,
    found: Mutex<Option<Found>>,
    flaky: Mutex<Vec<Found>>,
}

impl<'a> Shared<'a> {
    fn new(subject: &'a Subject, opts: &'a ExploreOpts) -> Self {
        Shared {
            subject,
            opts,
            started: Instant::now(),
            cases: AtomicU64::new(0),
            starts: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            longest: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            stopped: Mutex::new(None),
            found: Mutex::new(None),
            flaky: Mutex::new(vec![]),
        }
    }

    /// The wait for a step now: derived from the replies seen, the full timeout before any.
    fn wait(&self) -> Duration {
        match self.longest.load(Ordering::Relaxed) {
            0 => self.opts.timeout,
            us => (Duration::from_micros(us) * 4 + WAIT_FLOOR).min(self.opts.timeout),
        }
    }

    fn learn(&self, o: &Outcome) {
        if o.failed() {
            return;
        }
        let longest = o
            .transcript
            .iter()
            .filter(|e| {
                e.ok && matches!(
                    e.fact,
                    Fact::Replied { .. } | Fact::DatagramReplied { .. } | Fact::PrintedAsExpected { .. }
                )
            })
            .map(|e| e.took.as_micros() as u64)
            .max()
            .unwrap_or(0);
        self.longest.fetch_max(longest.max(1), Ordering::Relaxed);
    }

    fn more(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) || self.started.elapsed() >= self.opts.time {
            return false;
        }
        match self.opts.cases {
            Some(n) => self.cases.fetch_add(1, Ordering::Relaxed) < n,
            None => {
                self.cases.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }
}

/// One worker's engine and process.
struct Player<'a> {
    shared: &'a Shared<'a>,
    engine: Engine,
    target: Option<Box<dyn Target>>,
}

impl<'a> Player<'a> {
    fn new(shared: &'a Shared<'a>) -> std::io::Result<Self> {
        Ok(Player { shared, engine: Engine::new(RunOpts::default())?, target: None })
    }

    /// Play `case` as scenario `name` with steps waiting `wait`; after a failure the process is
    /// stopped, so the next case gets a fresh one.
    fn play(&mut self, case: &Case, name: &str, wait: Duration) -> Outcome {
        self.engine.set_step_timeout(wait);
        let subject = self.shared.subject;
        match subject {
            Subject::Client { command, transport, opts } => {
                let scenario = case.client_scenario(name, transport.is_datagram());
                let opts = ClientOpts { step_timeout: wait, ..opts.clone() };
                self.engine.check_client(&scenario, command, *transport, &opts)
            }
            Subject::Server { transport, model, .. } => {
                let scenario = case.scenario(name, *model);
                if self.target.is_none() {
                    match subject.target() {
                        Ok(t) => {
                            self.shared.starts.fetch_add(1, Ordering::Relaxed);
                            self.target = Some(t);
                        }
                        Err(e) => {
                            let mut o = Outcome::new(name, scenario.description(), *transport, "target".into());
                            o.verdict = Verdict::Fail;
                            o.failure = Some(Failure::new("sockcheck", 0, "start", Fact::Setup { what: e }));
                            return o;
                        }
                    }
                }
                let target = self.target.as_mut().expect("started above");
                let o = self.engine.check(&scenario, target.as_mut());
                if o.failed() {
                    let _ = target.stop();
                    self.target = None;
                }
                o
            }
        }
    }

    /// Play with the short wait; a failure that rests on it is played again with the full one.
    fn play_confirmed(&mut self, case: &Case, name: &str) -> Outcome {
        let o = self.play(case, name, self.shared.wait());
        let short = self.shared.wait() < self.shared.opts.timeout;
        match &o.failure {
            Some(f) if o.failed() && short && rests_on_a_wait(&f.fact) => {
                let again = self.play(case, name, self.shared.opts.timeout);
                if !again.failed() {
                    self.shared.slow.fetch_add(1, Ordering::Relaxed);
                }
                again
            }
            _ => o,
        }
    }

    /// Generate and play until time, cases or another worker's failure say stop.
    fn run(&mut self, worker: usize, watch: &dyn Watch) -> Result<(), String> {
        let shared = self.shared;
        let mut runner = TestRunner::new_with_rng(Config::default(), rng(shared.opts.seed, worker));
        let strategy = shared.subject.strategy();
        while shared.more() {
            let mut tree = strategy.new_tree(&mut runner).map_err(|e| e.to_string())?;
            let case = tree.current();
            let o = self.play_confirmed(&case, "explore");
            if !case.paced() {
                shared.learn(&o);
            }
            if worker == 0 {
                watch.progress(shared.cases.load(Ordering::Relaxed), shared.started.elapsed(), 0, None);
            }
            let Some(cause) = cause_of(&o) else { continue };
            if shared.stop.swap(true, Ordering::SeqCst) {
                // Another worker found one first: its failure is the one shrunk and reported.
                return Ok(());
            }
            *shared.stopped.lock().expect("no worker panics holding it") = Some(shared.started.elapsed());
            let after_cases = shared.cases.load(Ordering::Relaxed);
            let found = Found { after_cases, ..self.shrink(&mut *tree, case, o, cause, watch) };
            let mut flaky = shared.flaky.lock().expect("no worker panics holding it");
            if found.reruns_failed == 0 && flaky.len() < MAX_FLAKY {
                // No rerun repeated it (a bug that needs a timing this machine gives now and
                // then): kept for the report, and exploring goes on for a failure that repeats.
                flaky.push(found);
                *shared.stopped.lock().expect("no worker panics holding it") = None;
                shared.stop.store(false, Ordering::SeqCst);
                continue;
            }
            *shared.found.lock().expect("no worker panics holding it") = Some(found);
            return Ok(());
        }
        Ok(())
    }

    /// Shrink to the smallest case that fails with `cause`, then confirm it with the full wait.
    fn shrink(
        &mut self,
        tree: &mut dyn ValueTree<Value = Case>,
        original: Case,
        first: Outcome,
        cause: Cause,
        watch: &dyn Watch,
    ) -> Found {
        let started = Instant::now();
        let shared = self.shared;
        let (mut best, mut best_outcome) = (original.clone(), first);
        let mut runs = 0u64;
        let same = |o: &Outcome| cause_of(o) == Some(cause);
        if tree.simplify() {
            while started.elapsed() < shared.opts.shrink_time && runs < 2000 {
                let candidate = tree.current();
                runs += 1;
                watch.progress(shared.cases.load(Ordering::Relaxed), shared.started.elapsed(), 1, Some(runs));
                let o = self.play_candidate(&candidate, cause);
                if same(&o) {
                    (best, best_outcome) = (candidate, o);
                    if !tree.simplify() {
                        break;
                    }
                } else if !tree.complicate() {
                    break;
                }
            }
        }
        // Then the simpler forms proptest does not try, while one still fails the same way.
        'simpler: loop {
            for candidate in best.simpler() {
                if started.elapsed() >= shared.opts.shrink_time {
                    break 'simpler;
                }
                runs += 1;
                let o = self.play_candidate(&candidate, cause);
                if same(&o) {
                    (best, best_outcome) = (candidate, o);
                    continue 'simpler;
                }
            }
            break;
        }
        // The shrunk case again on a fresh process each time: once with the full wait (a verdict
        // that rests on a short one is confirmed), then with the short one.
        let name = best.id();
        let mut reruns_failed = 0;
        let mut confirmed: Option<Outcome> = None;
        for i in 0..RERUNS {
            let wait = if i == 0 { shared.opts.timeout } else { shared.wait() };
            let o = self.play(&best, &name, wait);
            if same(&o) {
                reruns_failed += 1;
                // The report shows a run with the full wait when there is one.
                confirmed.get_or_insert(o);
            }
            self.reset();
        }
        if let Some(o) = confirmed {
            best_outcome = o;
        }
        best_outcome.scenario = name;
        Found {
            case: best,
            outcome: best_outcome,
            cause,
            original,
            after_cases: 0,
            shrink_runs: runs,
            shrink_time: started.elapsed(),
            reruns_failed,
        }
    }

    /// A candidate of shrinking, played so that its verdict can be trusted: one that a short wait
    /// decided is played again with the full one when it fails another way (on a loaded machine a
    /// slow reply must not make the shrinker give up a smaller case) or the same way while
    /// something was still happening (a bug must not drift into a slow case).
    fn play_candidate(&mut self, candidate: &Case, cause: Cause) -> Outcome {
        let o = self.play(candidate, &candidate.id(), self.shared.wait());
        let decided_by_the_wait = o
            .failure
            .as_ref()
            .is_some_and(|f| rests_on_a_wait(&f.fact) && (cause_of(&o) != Some(cause) || was_progressing(&f.fact)));
        if decided_by_the_wait {
            return self.play(candidate, &candidate.id(), self.shared.opts.timeout);
        }
        o
    }

    /// Stop the process: the next case gets a fresh one.
    fn reset(&mut self) {
        if let Some(mut t) = self.target.take() {
            let _ = t.stop();
        }
    }
}

impl Drop for Player<'_> {
    fn drop(&mut self) {
        self.reset();
    }
}

/// Worker `worker`'s generator: the same seed and worker give the same cases.
fn rng(seed: u64, worker: usize) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(worker as u64).to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Replay the saved cases for `subject`, then (when none fails) explore until time or cases run
/// out or a failure is found and shrunk.
pub fn explore(
    subject: &Subject,
    saved: Vec<Entry>,
    opts: &ExploreOpts,
    watch: &dyn Watch,
) -> std::io::Result<Explored> {
    let shared = Shared::new(subject, opts);
    let mut explored = Explored::default();
    {
        let mut player = Player::new(&shared)?;
        for entry in saved.into_iter().filter(|e| subject.takes(e)) {
            let o = player.play(&entry.case, &entry.name, opts.timeout);
            explored.replayed.push((entry, o));
        }
    }
    if explored.replayed.iter().any(|(_, o)| o.failed()) {
        explored.starts = shared.starts.load(Ordering::Relaxed);
        return Ok(explored);
    }
    let shared = Shared { started: Instant::now(), ..shared };
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.jobs.max(1))
            .map(|worker| {
                let shared = &shared;
                scope.spawn(move || -> Result<(), String> {
                    let mut player = Player::new(shared).map_err(|e| e.to_string())?;
                    player.run(worker, watch)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into())).err()).collect()
    });
    if let Some(e) = errors.into_iter().next() {
        return Err(std::io::Error::other(e));
    }
    explored.cases = shared.cases.load(Ordering::Relaxed);
    if let Some(n) = opts.cases {
        explored.cases = explored.cases.min(n);
    }
    explored.flaky = shared.flaky.into_inner().expect("no worker panics holding it");
    // Exploring only: not the shrinking of the flaky failures found on the way.
    let shrinking: Duration = explored.flaky.iter().map(|f| f.shrink_time).sum();
    explored.took = shared.stopped.lock().expect("no worker panicked").unwrap_or_else(|| shared.started.elapsed());
    explored.took = explored.took.saturating_sub(shrinking);
    explored.starts += shared.starts.load(Ordering::Relaxed);
    explored.slow_not_failed = shared.slow.load(Ordering::Relaxed);
    explored.longest_reply = Duration::from_micros(shared.longest.load(Ordering::Relaxed));
    explored.found = shared.found.into_inner().expect("no worker panics holding it");
    Ok(explored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Micros, Served};

    fn cases(seed: u64, worker: usize) -> Vec<Case> {
        let strategy = gen::stream_case();
        let mut runner = TestRunner::new_with_rng(Config::default(), rng(seed, worker));
        (0..20).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect()
    }

    #[test]
    fn the_same_seed_and_worker_generate_the_same_cases() {
        assert_eq!(cases(5, 0), cases(5, 0));
        assert_ne!(cases(5, 0), cases(5, 1));
        assert_ne!(cases(5, 0), cases(6, 0));
    }

    #[test]
    fn a_wait_that_saw_progress_is_confirmed_and_a_silent_one_is_not() {
        let no_reply = |got| Fact::NoReply {
            got,
            expected: 4,
            waited: Micros::default(),
            stalled: false,
            send_error: None,
            missing: Default::default(),
        };
        assert!(rests_on_a_wait(&no_reply(0)) && !was_progressing(&no_reply(0)));
        assert!(was_progressing(&no_reply(2)));
        let lines = |partial, replied| Fact::TooFewLines {
            printed: 0,
            expected: 1,
            partial,
            next: Default::default(),
            ended: false,
            within: Micros::default(),
            stranger: false,
            served: Served { received: 10, replied, ..Default::default() },
        };
        assert!(!was_progressing(&lines(0, 10)));
        assert!(was_progressing(&lines(0, 3)), "the played server was still writing");
        assert!(was_progressing(&lines(1, 10)), "part of the line was printed");
        assert!(!rests_on_a_wait(&Fact::ClosedByServer { after: Micros::default() }));
        let Fact::TooFewLines { printed, expected, partial, next, within, stranger, served, .. } = lines(0, 10) else {
            unreachable!()
        };
        let ended = Fact::TooFewLines { printed, expected, partial, next, ended: true, within, stranger, served };
        assert!(!rests_on_a_wait(&ended), "a client that exited is not waited for");
    }

    #[test]
    fn short_waits_come_from_measured_replies_with_a_floor_and_the_timeout_as_ceiling() {
        let subject = Subject::Server {
            spec: ServerSpec::Reference(Mode::Sequential, Transform::Upper),
            transport: Transport::Tcp,
            model: Some(Mode::Sequential),
        };
        let opts = ExploreOpts {
            time: Duration::from_secs(1),
            cases: None,
            seed: 1,
            jobs: 1,
            timeout: Duration::from_secs(5),
            shrink_time: Duration::from_secs(1),
        };
        let shared = Shared::new(&subject, &opts);
        assert_eq!(shared.wait(), opts.timeout, "no reply seen yet");
        shared.longest.store(10_000, Ordering::Relaxed);
        assert_eq!(shared.wait(), Duration::from_millis(40) + WAIT_FLOOR);
        shared.longest.store(3_000_000, Ordering::Relaxed);
        assert_eq!(shared.wait(), opts.timeout);
    }
}
