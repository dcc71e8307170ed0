//! The catalogue inside a Rust project's own `cargo test`: one named test per scenario and
//! transport, filterable like any test, against a binary of the project, a running address, or a
//! function that serves a listener.
//!
//! In `tests/conformance.rs`, declared with `harness = false` in `Cargo.toml`:
//!
//! ```no_run
//! // [[test]]
//! // name = "conformance"
//! // harness = false
//! use sockcheck::testing::{Mode, Suite, Transport};
//!
//! fn main() {
//!     # let my_server = "/path/to/my-server"; // env!("CARGO_BIN_EXE_my-server") in a real test
//!     Suite::program(my_server, ["{port}"])
//!         .transports(&[Transport::Tcp])
//!         .model(Mode::Concurrent)
//!         .run_as_tests()
//! }
//! ```
//!
//! `cargo test` then lists `short_message_is_echoed_upper::tcp`, `send_of_1m_comes_back_whole::tcp`,
//! ...; `cargo test send_of_1m` runs one, and a failure prints the scenario's transcript. A scenario
//! that cannot run against this target (it needs the other serving model, or a server sockcheck can
//! restart) is listed as ignored with the reason.
//!
//! To assert on the results instead, [`Suite::outcomes`] plays every scenario and returns the
//! [`Outcome`]s:
//!
//! ```no_run
//! use sockcheck::testing::Suite;
//!
//! let outcomes = Suite::spawn("python3 server.py {port}").outcomes().unwrap();
//! let failed: Vec<&str> = outcomes.iter().filter(|o| o.failed()).map(|o| o.scenario.as_str()).collect();
//! assert_eq!(failed, ["reset_client_does_not_stop_the_server"]);
//! ```
//!
//! A server written as a function of its listener runs on a thread of the test process, a fresh
//! listener for each scenario:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use sockcheck::testing::{Mode, Suite};
//!
//! Suite::serve(|listener: std::net::TcpListener| {
//!     for conn in listener.incoming() {
//!         let mut conn = conn?;
//!         std::thread::spawn(move || {
//!             let mut buf = [0; 1024];
//!             while let Ok(n @ 1..) = conn.read(&mut buf) {
//!                 if conn.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//!     Ok(())
//! })
//! .model(Mode::Concurrent)
//! .run_as_tests()
//! ```

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use libtest_mimic;
use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::engine::{Engine, RunOpts};
use crate::error::{Error, Result};
use crate::facts::TargetEnd;
use crate::scenario::Scenario;
use crate::target::placeholders::{shell_quote, transport_of};
use crate::target::{AddressTarget, SpawnOpts, SpawnTarget, Target};
pub use crate::{report::Outcome, Endpoint, Mode, Transform, Transport};

/// How many trials run at once unless `--test-threads` says otherwise: scenarios mostly wait (on
/// deadlines, on silence), so a few per CPU keep a small machine busy without slowing verdicts.
pub const DEFAULT_TEST_THREADS: usize = 12;

/// A function that serves a listener until it fails (which it does once sockcheck shuts the
/// listener down after the scenario).
type ServeFn<L> = Arc<dyn Fn(L) -> io::Result<()> + Send + Sync>;

/// What the suite checks.
#[derive(Clone)]
enum Server {
    Spawn(String),
    Address(Endpoint),
    Serve(Served),
}

/// The server catalogue against one server, as tests or as outcomes. Built with one of
/// [`Suite::program`], [`Suite::spawn`], [`Suite::address`], [`Suite::serve`] or
/// [`Suite::serve_unix`], then narrowed with the other methods.
#[derive(Clone)]
#[must_use]
pub struct Suite {
    server: Server,
    transports: Vec<Transport>,
    model: Option<Mode>,
    transform: Transform,
    filters: Vec<String>,
    scenarios: Vec<Scenario>,
    run: RunOpts,
    ready_timeout: Duration,
    /// Serving models found by probing, per transport, shared by the suite's trials.
    detected: Arc<Mutex<HashMap<Transport, Option<Mode>>>>,
}

impl Suite {
    fn new(server: Server) -> Suite {
        Suite {
            server,
            transports: vec![],
            model: None,
            transform: Transform::Upper,
            filters: vec![],
            scenarios: crate::catalogue::all(),
            run: RunOpts::default(),
            ready_timeout: SpawnOpts::new("").ready_timeout,
            detected: Arc::default(),
        }
    }

    /// A command started afresh for every scenario, as `sockcheck check --spawn` runs it: a shell
    /// command with `{port}`, `{host}`, `{addr}` or `{path}` in it, filled in with a free port or
    /// a socket path in a temp dir. The placeholders choose the transport unless
    /// [`Suite::transports`] says.
    pub fn spawn(command: impl Into<String>) -> Suite {
        Suite::new(Server::Spawn(command.into()))
    }

    /// A program (e.g. `env!("CARGO_BIN_EXE_my-server")`) and its arguments, placeholders among
    /// them: like [`Suite::spawn`], with every word quoted for the shell.
    pub fn program<I, S>(program: impl AsRef<Path>, args: I) -> Suite
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut command = shell_quote(&program.as_ref().to_string_lossy());
        for arg in args {
            command.push(' ');
            command.push_str(&shell_quote(arg.as_ref()));
        }
        Suite::spawn(command)
    }

    /// A server that is already running at `endpoint`, shared by every scenario: scenarios that
    /// must restart it are ignored, and the serving model is the one [`Suite::model`] gives.
    pub fn address(endpoint: Endpoint) -> Suite {
        Suite::new(Server::Address(endpoint))
    }

    /// A server written as a function of a bound TCP listener (on a free loopback port), called
    /// on a thread of its own for each scenario. After the scenario the listener is shut down, so
    /// `accept` fails and the function should return. sockcheck cannot restart it: the scenarios
    /// that restart a server are ignored (use [`Suite::program`] for those).
    pub fn serve(serve: impl Fn(TcpListener) -> io::Result<()> + Send + Sync + 'static) -> Suite {
        Suite::new(Server::Serve(Served::Tcp(Arc::new(serve))))
    }

    /// Like [`Suite::serve`], over a Unix socket bound in a fresh temp dir.
    pub fn serve_unix(serve: impl Fn(UnixListener) -> io::Result<()> + Send + Sync + 'static) -> Suite {
        let mut suite = Suite::new(Server::Serve(Served::Unix(Arc::new(serve))));
        suite.transports = vec![Transport::Unix];
        suite
    }

    /// The transports to run over (the default: the one the command's placeholders or the
    /// address name; TCP for [`Suite::serve`]). A spawned command must serve each of them, e.g.
    /// `{addr}` for `Tcp` and `Udp`.
    pub fn transports(mut self, transports: &[Transport]) -> Suite {
        self.transports = transports.to_vec();
        self
    }

    /// The server's serving model. Without it, the model of a spawned or served server is probed
    /// once per transport (as `sockcheck check` does); a running address's stays unknown, and the
    /// scenarios that need one are ignored.
    pub fn model(mut self, model: Mode) -> Suite {
        self.model = Some(model);
        self
    }

    /// What the server does to bytes: [`Transform::Upper`] (the default) or [`Transform::Echo`].
    pub fn transform(mut self, transform: Transform) -> Suite {
        self.transform = transform;
        self
    }

    /// Only the scenarios whose name contains `text` (repeatable: any of them).
    pub fn filter(mut self, text: impl Into<String>) -> Suite {
        self.filters.push(text.into());
        self
    }

    /// These scenarios instead of the catalogue (e.g. some of [`crate::catalogue::all`], or your
    /// own written with the [`crate::scenario`] DSL).
    pub fn scenarios(mut self, scenarios: Vec<Scenario>) -> Suite {
        self.scenarios = scenarios;
        self
    }

    /// How long a step (a connect too) may wait for the server (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Suite {
        self.run.step_timeout = timeout;
        self.run.connect_timeout = timeout;
        self
    }

    /// How long a spawned command has to accept connections (default 10 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Suite {
        self.ready_timeout = timeout;
        self
    }

    /// The transports, checked against the server.
    fn chosen_transports(&self) -> Result<Vec<Transport>> {
        let given =
            |default: Transport| if self.transports.is_empty() { vec![default] } else { self.transports.clone() };
        let transports = match &self.server {
            Server::Spawn(command) => match self.transports.as_slice() {
                [] => vec![transport_of(command, None)?],
                some => some.to_vec(),
            },
            Server::Address(endpoint) => {
                let transports = given(endpoint.transport());
                if let Some(t) = transports.iter().find(|&&t| t != endpoint.transport()) {
                    return Err(Error::Usage(format!("the server at {endpoint} cannot be checked over {t}")));
                }
                transports
            }
            Server::Serve(Served::Tcp(_)) => given(Transport::Tcp),
            Server::Serve(Served::Unix(_)) => given(Transport::Unix),
        };
        let served: &[Transport] = match &self.server {
            Server::Serve(Served::Tcp(_)) => &[Transport::Tcp, Transport::Tcp6],
            Server::Serve(Served::Unix(_)) => &[Transport::Unix],
            Server::Spawn(_) | Server::Address(_) => &Transport::EVERY,
        };
        if let Some(t) = transports.iter().find(|t| !served.contains(t)) {
            return Err(Error::Usage(format!("a served listener cannot be checked over {t}: only over {served:?}")));
        }
        Ok(transports)
    }

    /// Every (scenario, transport) this suite plays, in catalogue order.
    fn cases(&self) -> Result<Vec<(Scenario, Transport)>> {
        let transports = self.chosen_transports()?;
        let scenarios = crate::engine::select(self.scenarios.clone(), &self.filters, |s| s.name());
        // A scenario for other transports (datagrams, socket files) is no test of this server at
        // all: left out rather than listed as ignored.
        let over = |s: &Scenario, t| {
            [Mode::Sequential, Mode::Concurrent].iter().any(|&m| s.skip_reason(t, Some(m), true).is_none())
        };
        let mut cases = vec![];
        for scenario in scenarios {
            for &transport in transports.iter().filter(|&&t| over(&scenario, t)) {
                cases.push((scenario.clone(), transport));
            }
        }
        Ok(cases)
    }

    /// The suite as libtest-mimic trials named `<scenario>::<transport>`, to run with other
    /// trials of your own (`libtest_mimic::run`); [`Suite::run_as_tests`] runs them alone. A
    /// scenario that cannot run here is ignored with the reason when it runs.
    pub fn trials(&self) -> Result<Vec<Trial>> {
        Ok(self
            .cases()?
            .into_iter()
            .map(|(scenario, transport)| {
                let suite = self.clone();
                outcome_trial(format!("{}::{transport}", scenario.name()), move || {
                    if let Some(why) = suite.skip_reason(&scenario, transport)? {
                        return Ok(Played::Skipped(why));
                    }
                    suite.play(&scenario, transport).map(|o| Played::Ran(Box::new(o)))
                })
            })
            .collect())
    }

    /// Run the suite as the test binary's tests, reading libtest's command line (`cargo test
    /// NAME`, `--list`, `--test-threads`, ...), and exit with its status. A suite that cannot be
    /// built (a command without placeholders, a transport the server does not serve) exits 2 with
    /// a one-line error.
    pub fn run_as_tests(&self) -> ! {
        crate::net::raise_fd_limit();
        match self.trials() {
            Ok(trials) => run_trials(trials),
            Err(e) => {
                eprintln!("sockcheck: error: {e}");
                std::process::exit(2)
            }
        }
    }

    /// Play every scenario, a few at a time, and return the outcomes in catalogue order
    /// (scenarios that cannot run here are there too, skipped, with the reason in
    /// [`Outcome::report`]).
    pub fn outcomes(&self) -> Result<Vec<Outcome>> {
        crate::net::raise_fd_limit();
        let cases = self.cases()?;
        let workers = crate::engine::default_jobs().max(4).min(cases.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<Outcome>>>> = cases.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((scenario, transport)) = cases.get(i) else { return };
                    *slots[i].lock().unwrap() = Some(self.play(scenario, *transport));
                });
            }
        });
        slots.into_iter().map(|slot| slot.into_inner().unwrap().expect("every case was played")).collect()
    }

    /// Why `scenario` cannot run over `transport` against this server, if it cannot (the same
    /// question the engine asks, answered before the play so the test is ignored, not passed).
    fn skip_reason(&self, scenario: &Scenario, transport: Transport) -> Result<Option<String>> {
        let controllable = matches!(self.server, Server::Spawn(_));
        Ok(scenario.skip_reason(transport, self.model_over(transport)?, controllable))
    }

    /// The serving model over `transport`: the one given, else probed once (spawned and served
    /// servers), else unknown.
    fn model_over(&self, transport: Transport) -> Result<Option<Mode>> {
        if transport.is_datagram() {
            return Ok(Some(Mode::Sequential));
        }
        if self.model.is_some() || matches!(self.server, Server::Address(_)) {
            return Ok(self.model);
        }
        let mut detected = self.detected.lock().unwrap();
        if let Some(&model) = detected.get(&transport) {
            return Ok(model);
        }
        let mut probe = self.target(transport, None)?;
        probe.start().map_err(|e| Error::Io(io::Error::other(format!("the server did not start: {e}"))))?;
        let model = crate::target::probe(&probe.endpoint(), Duration::from_millis(500), self.transform).model;
        let _ = probe.stop();
        detected.insert(transport, model);
        Ok(model)
    }

    /// A fresh target for one scenario.
    fn target(&self, transport: Transport, model: Option<Mode>) -> Result<Box<dyn Target>> {
        Ok(match &self.server {
            Server::Spawn(command) => Box::new(SpawnTarget::new(SpawnOpts {
                transport: Some(transport),
                ready_timeout: self.ready_timeout,
                model,
                transform: self.transform,
                ..SpawnOpts::new(command.clone())
            })?),
            Server::Address(endpoint) => {
                Box::new(AddressTarget { endpoint: endpoint.clone(), model, transform: self.transform })
            }
            Server::Serve(served) => Box::new(ServeTarget::new(transport, model, self.transform, served.clone())?),
        })
    }

    /// Play one scenario against a fresh target.
    fn play(&self, scenario: &Scenario, transport: Transport) -> Result<Outcome> {
        let engine = Engine::new(self.run.clone())?;
        let mut target = self.target(transport, self.model_over(transport)?)?;
        let outcome = engine.check(scenario, target.as_mut());
        let _ = target.stop();
        Ok(outcome)
    }
}

/// What a trial did: played a scenario, or found it cannot run here (and why).
pub enum Played {
    /// The scenario ran; the trial passes unless the outcome failed.
    Ran(Box<Outcome>),
    /// The scenario cannot run here: the trial is ignored with this reason.
    Skipped(String),
}

/// A libtest-mimic trial named `name` that plays one scenario: it fails with the outcome's full
/// report (the transcript, what the program wrote) when the outcome failed, is ignored with the
/// reason when the scenario was skipped, and fails with the error when it could not be played.
pub fn outcome_trial(name: impl Into<String>, play: impl FnOnce() -> Result<Played> + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || match play() {
        Ok(Played::Ran(outcome)) if outcome.failed() => Err(Failed::from(outcome.report())),
        Ok(Played::Ran(_)) => Ok(Completion::Completed),
        Ok(Played::Skipped(why)) => Ok(Completion::ignored_with(why)),
        Err(e) => Err(Failed::from(e.to_string())),
    })
}

/// Run `trials` with libtest's command line, [`DEFAULT_TEST_THREADS`] at once unless
/// `--test-threads` says, and exit with the verdict.
pub fn run_trials(trials: Vec<Trial>) -> ! {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(DEFAULT_TEST_THREADS);
    }
    libtest_mimic::run(&args, trials).exit()
}

/// The function of a served target and its listener's kind.
#[derive(Clone)]
enum Served {
    Tcp(ServeFn<TcpListener>),
    Unix(ServeFn<UnixListener>),
}

/// A running server function: a handle on its listener, and how its thread ended, once it has.
struct Serving {
    listener: socket2::Socket,
    ended: std::sync::mpsc::Receiver<std::result::Result<io::Result<()>, String>>,
}

/// Run `serve(listener)` on a thread of its own; how it ends (returned, or panicked) is sent on
/// the channel.
fn serving<L: Send + 'static>(listener: L, handle: socket2::Socket, serve: ServeFn<L>) -> Serving {
    let (tx, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(listener)));
        let _ = tx.send(result.map_err(|panic| panic_message(&*panic).to_string()));
    });
    Serving { listener: handle, ended }
}

/// A server function running on a thread with a listener of its own; its listener is shut down
/// (which wakes `accept` with an error) when the target stops.
struct ServeTarget {
    served: Served,
    endpoint: Endpoint,
    model: Option<Mode>,
    transform: Transform,
    running: Option<Serving>,
    _dir: Option<tempfile::TempDir>,
}

impl ServeTarget {
    fn new(transport: Transport, model: Option<Mode>, transform: Transform, served: Served) -> Result<Self> {
        if let Some(why) = crate::net::transport_unsupported(transport) {
            return Err(Error::Io(io::Error::other(format!("{transport} cannot be used here: {why}"))));
        }
        let (endpoint, dir) = crate::net::fresh_endpoint(transport)?;
        Ok(ServeTarget { served, endpoint, model, transform, running: None, _dir: dir })
    }
}

impl Target for ServeTarget {
    fn describe(&self) -> String {
        "the served function".into()
    }
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }
    fn model(&self) -> Option<Mode> {
        self.model
    }
    fn transform(&self) -> Transform {
        self.transform
    }
    fn start(&mut self) -> std::result::Result<(), String> {
        if self.running.is_some() {
            return Ok(());
        }
        let bound = match (&self.served, &self.endpoint) {
            (Served::Tcp(serve), Endpoint::Tcp(addr)) => TcpListener::bind(addr).and_then(|l| {
                self.endpoint = Endpoint::Tcp(l.local_addr()?);
                let handle = socket2::Socket::from(l.try_clone()?);
                Ok(serving(l, handle, serve.clone()))
            }),
            (Served::Unix(serve), Endpoint::Unix(path)) => UnixListener::bind(path).and_then(|l| {
                let handle = socket2::Socket::from(std::os::fd::OwnedFd::from(l.try_clone()?));
                Ok(serving(l, handle, serve.clone()))
            }),
            (_, endpoint) => return Err(format!("a served listener cannot listen at {endpoint}")),
        };
        self.running = Some(bound.map_err(|e| format!("cannot listen at {}: {e}", self.endpoint))?);
        Ok(())
    }
    fn health(&mut self, after_failure: bool) -> Option<TargetEnd> {
        let serving = self.running.as_ref()?;
        // After a failure the function may be ending right now (its listener is closed before
        // its thread has said so): a moment to learn how.
        let patience = if after_failure { Duration::from_millis(500) } else { Duration::ZERO };
        let ended = serving.ended.recv_timeout(patience).ok()?;
        self.running = None;
        Some(TargetEnd::Ended {
            how: match ended {
                Ok(Ok(())) => "the serve function returned while the scenario ran".into(),
                Ok(Err(e)) => format!("the serve function returned an error: {e}"),
                Err(panic) => format!("the serve function panicked: {panic}"),
            },
        })
    }
    fn stop(&mut self) -> std::result::Result<(), String> {
        if let Some(serving) = self.running.take() {
            // Its thread is left detached: a function stuck in a connection handler must not
            // hold up the suite.
            let _ = serving.listener.shutdown(std::net::Shutdown::Both);
        }
        Ok(())
    }
}

impl Drop for ServeTarget {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A panic's message, when it is a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or(panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}
