//! Server scenarios: sockcheck plays the clients of a [`Scenario`] against a [`Target`].
//!
//! Every client has a [`Writer`](crate::faults::Writer) (sends go out while the client reads, so a
//! large send can never deadlock against its own reply) and a reader driven by the steps. Every
//! wait has a deadline: a broken target fails the scenario, it never hangs the run.

use std::collections::HashMap;
use std::io;
use std::time::Instant;

mod client;

use client::Client;

use super::{Engine, Play, RunOpts, StepResult, Transcript};
use crate::addr::{Endpoint, Transport};
use crate::facts::{Bytes, Fact, Misuse, PathThing, TargetEnd};
use crate::proto::Transform;
use crate::report::Failure;
use crate::scenario::{Action, PathFixture, Scenario, Steps};
use crate::target::Target;

/// A server scenario against a target, ready to play.
pub struct ServerPlay<'a> {
    scenario: &'a Scenario,
    target: &'a mut dyn Target,
    /// Where the target's output stood when the play began.
    output_mark: (u64, u64),
}

impl<'a> ServerPlay<'a> {
    /// `scenario` against `target`, which the play starts.
    pub fn new(scenario: &'a Scenario, target: &'a mut dyn Target) -> Self {
        ServerPlay { scenario, target, output_mark: (0, 0) }
    }
}

impl Play for ServerPlay<'_> {
    fn scenario(&self) -> (&str, &str) {
        (self.scenario.name(), self.scenario.description())
    }

    fn transport(&self) -> Transport {
        self.target.endpoint().transport()
    }

    fn model(&self) -> Option<crate::server::Mode> {
        self.target.model()
    }

    fn subject(&self) -> String {
        self.target.describe()
    }

    fn skip_reason(&self) -> Option<String> {
        self.scenario.skip_reason(self.transport(), self.target.model(), self.target.controllable())
    }

    fn play(&mut self, engine: &Engine, log: &mut Transcript) -> Result<(), Failure> {
        let opts = engine.opts();
        if let Err(why) = self.target.start() {
            return Err(Failure::new("target", 0, "start", Fact::TargetDidNotStart { why }));
        }
        self.output_mark = self.target.output_mark();
        let transform = self.target.transform();
        let mut ctx =
            Ctx { target: &mut *self.target, opts, log, clients: HashMap::new(), dgram: HashMap::new(), transform };
        let deadline = self.scenario.deadline;
        let result = engine.block_on(async {
            match tokio::time::timeout(deadline, ctx.run_actions(&self.scenario.actions)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::new(
                    "scenario",
                    ctx.log.len() + 1,
                    "(whole scenario)",
                    Fact::ScenarioTimeout { deadline: deadline.into() },
                )),
            }
        });
        // Close every client before the target is asked how it is.
        engine.block_on(ctx.close_all());
        result
    }

    fn health(&mut self, after_failure: bool) -> Option<TargetEnd> {
        self.target.health(after_failure)
    }

    fn greeting(&self) -> Option<Vec<u8>> {
        let endpoint = self.target.endpoint();
        self.target.greeting().or_else(|| {
            (!endpoint.transport().is_datagram()).then(|| crate::target::probe_greeting(&endpoint)).flatten()
        })
    }

    fn program_output(&self) -> Vec<String> {
        self.target.output_since(self.output_mark)
    }
}

struct Ctx<'a> {
    target: &'a mut dyn Target,
    opts: &'a RunOpts,
    log: &'a mut Transcript,
    clients: HashMap<String, Client>,
    /// The clients of a datagram scenario.
    dgram: HashMap<String, super::datagram::DgramClient>,
    transform: Transform,
}

impl Ctx<'_> {
    fn record(&mut self, client: &str, step: String, started: Instant, result: &StepResult) {
        self.log.record(client, step, started, result);
    }

    fn fail(&self, client: &str, step: String, fact: Fact) -> Failure {
        self.log.fail(client, step, fact)
    }

    async fn run_actions(&mut self, actions: &[Action]) -> Result<(), Failure> {
        for action in actions {
            match action {
                Action::Client { name, steps } if self.target.endpoint().transport().is_datagram() => {
                    let endpoint = self.target.endpoint();
                    let ctx = (&endpoint, self.transform, self.opts);
                    super::datagram::run_steps(&mut self.dgram, name, steps, ctx, self.log).await?;
                }
                Action::Client { name, steps } => {
                    let mut client = self.clients.remove(name).unwrap_or_else(|| Client::new(name));
                    let r = self.run_steps(&mut client, steps).await;
                    self.clients.insert(name.clone(), client);
                    r?;
                }
                Action::Together { names, steps } => self.together(names, steps).await?,
                Action::Repeat { count, steps } => self.repeat(*count, steps).await?,
                Action::Wait(d) => {
                    let started = Instant::now();
                    tokio::time::sleep(*d).await;
                    self.record("-", format!("wait(ms({}))", d.as_millis()), started, &Ok(Fact::Nothing));
                }
                other => self.target_action(other)?,
            }
        }
        Ok(())
    }

    async fn run_steps(&mut self, client: &mut Client, steps: &Steps) -> Result<(), Failure> {
        for t in &steps.steps {
            let started = Instant::now();
            let mut r = client.step(t, &self.target.endpoint(), self.transform, self.opts).await;
            if let Err(Fact::NotQuiet { others_closed, .. }) = &mut r {
                for (name, other) in self.clients.iter_mut() {
                    if other.closed_by_server().await {
                        others_closed.push(name.clone());
                    }
                }
                others_closed.sort();
            }
            let code = t.step.to_code();
            self.record(&client.name, code.clone(), started, &r);
            if let Err(e) = r {
                return Err(self.fail(&client.name, code, e));
            }
        }
        Ok(())
    }

    async fn together(&mut self, names: &[String], steps: &Steps) -> Result<(), Failure> {
        let endpoint = self.target.endpoint();
        let mut set = tokio::task::JoinSet::new();
        for name in names {
            let mut client = self.clients.remove(name).unwrap_or_else(|| Client::new(name));
            let (steps, endpoint, transform, opts) =
                (steps.clone(), endpoint.clone(), self.transform, self.opts.clone());
            let mut log = self.log.fork();
            set.spawn(async move {
                let mut failure = None;
                for t in &steps.steps {
                    let started = Instant::now();
                    let r = client.step(t, &endpoint, transform, &opts).await;
                    log.record(&client.name, t.step.to_code(), started, &r);
                    if let Err(e) = r {
                        failure = Some((t.step.to_code(), e));
                        break;
                    }
                }
                (client, log, failure)
            });
        }
        let mut first_failure = None;
        while let Some(joined) = set.join_next().await {
            let (client, log, failure) = joined.expect("client task panicked");
            self.log.merge(log);
            if let (Some((step, msg)), None) = (failure, &first_failure) {
                first_failure = Some(self.fail(&client.name, step, msg));
            }
            self.clients.insert(client.name.clone(), client);
        }
        first_failure.map_or(Ok(()), Err)
    }

    async fn repeat(&mut self, count: usize, steps: &Steps) -> Result<(), Failure> {
        const SHOWN: usize = 2;
        let started = Instant::now();
        for i in 1..=count {
            let mut client = Client::new(&format!("#{i}"));
            if i <= SHOWN {
                self.run_steps(&mut client, steps).await?;
            } else {
                for t in &steps.steps {
                    let step_started = Instant::now();
                    if let Err(e) = client.step(t, &self.target.endpoint(), self.transform, self.opts).await {
                        let code = t.step.to_code();
                        let fact = e.in_repeat(i, count);
                        self.record(&client.name, code.clone(), step_started, &Err(fact.clone()));
                        return Err(self.fail(&client.name, code, fact));
                    }
                }
            }
            client.close_now().await;
        }
        if count > SHOWN {
            let note = Fact::Repeated { count: count as u64, shown: SHOWN as u64 };
            self.record(
                &format!("#{}..#{count}", SHOWN + 1),
                steps.steps.iter().map(|t| t.step.to_code()).collect::<Vec<_>>().join("."),
                started,
                &Ok(note),
            );
        }
        Ok(())
    }

    fn target_action(&mut self, action: &Action) -> Result<(), Failure> {
        let started = Instant::now();
        let (code, r) = match action {
            Action::StopTarget => (
                "stop_target()".to_string(),
                self.target.stop().map(|()| Fact::TargetStopped).map_err(|why| Fact::Setup { what: why }),
            ),
            Action::StartTarget => (
                "start_target()".to_string(),
                self.target
                    .start()
                    .map(|()| Fact::TargetStarted { at: self.target.endpoint().to_string() })
                    .map_err(|why| Fact::TargetDidNotStart { why }),
            ),
            Action::ExpectStartFailure => ("expect_start_failure()".to_string(), self.expect_start_failure()),
            Action::PutAtPath(f) => (format!("put_at_path({})", f.to_code()), self.put_at_path(f)),
            Action::ExpectAtPath(f) => (format!("expect_at_path({})", f.to_code()), self.expect_at_path(f)),
            Action::ClearPath => ("clear_path()".to_string(), self.clear_path()),
            _ => unreachable!("client actions are run elsewhere"),
        };
        self.record("target", code.clone(), started, &r);
        r.map(|_| ()).map_err(|e| self.fail("target", code, e))
    }

    fn unix_path(&self) -> Result<std::path::PathBuf, Fact> {
        match self.target.endpoint() {
            Endpoint::Unix(p) | Endpoint::UnixDgram(p) => Ok(p),
            _ => Err(Fact::Misuse { what: Misuse::NotAUnixPath }),
        }
    }

    /// What is at the target's path now.
    fn at_path(&self) -> Result<PathThing, Fact> {
        use std::os::unix::fs::FileTypeExt;
        let path = self.unix_path()?;
        Ok(match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => PathThing::Nothing,
            Err(e) => return Err(Fact::Setup { what: format!("cannot look at {}: {e}", path.display()) }),
            Ok(m) if m.file_type().is_socket() => PathThing::StaleSocket,
            Ok(m) if m.file_type().is_file() => match std::fs::read(&path) {
                Ok(bytes) => PathThing::RegularFile(Bytes::of(&bytes)),
                Err(e) => return Err(Fact::Setup { what: format!("cannot read {}: {e}", path.display()) }),
            },
            Ok(_) => PathThing::Other,
        })
    }

    fn expect_start_failure(&mut self) -> StepResult {
        let was = self.at_path().unwrap_or(PathThing::Other);
        match self.target.start() {
            Err(why) => Ok(Fact::RefusedToStart { why }),
            Ok(()) => {
                let _ = self.target.stop();
                Err(Fact::StartedAnyway { was })
            }
        }
    }

    fn put_at_path(&mut self, f: &PathFixture) -> StepResult {
        let path = self.unix_path()?;
        let _ = std::fs::remove_file(&path);
        let setup = |what: String| Fact::Setup { what };
        match f {
            PathFixture::StaleSocket => {
                // A socket file that no socket holds, as a server that died leaves one (closing
                // does not unlink). Made with mknod, not bind-then-close: a socket just closed can
                // live on for a moment in a child process that another job of this process is
                // starting (fork keeps descriptors until exec), and meanwhile it still answers.
                use nix::sys::stat::{mknod, Mode, SFlag};
                mknod(&path, SFlag::S_IFSOCK, Mode::from_bits_truncate(0o777), 0)
                    .map_err(|e| setup(format!("cannot make a stale socket: {e}")))?;
            }
            PathFixture::RegularFile(bytes) => {
                std::fs::write(&path, bytes).map_err(|e| setup(format!("cannot write {}: {e}", path.display())))?;
            }
        }
        Ok(Fact::PutAtPath { thing: self.at_path()?, path: path.display().to_string() })
    }

    fn expect_at_path(&mut self, f: &PathFixture) -> StepResult {
        let path = self.unix_path()?;
        let was = match f {
            PathFixture::StaleSocket => PathThing::StaleSocket,
            PathFixture::RegularFile(want) => PathThing::RegularFile(Bytes::of(want)),
        };
        let now = self.at_path()?;
        let same = match (f, &now) {
            (PathFixture::RegularFile(want), PathThing::RegularFile(_)) => {
                std::fs::read(&path).is_ok_and(|g| &g == want)
            }
            _ => was == now,
        };
        if same {
            Ok(Fact::PathAsItWas { thing: now })
        } else {
            Err(Fact::PathChanged { path: path.display().to_string(), was, now })
        }
    }

    fn clear_path(&mut self) -> StepResult {
        let path = self.unix_path()?;
        let was = self.at_path()?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Fact::PathCleared { was }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Fact::PathCleared { was: PathThing::Nothing }),
            Err(e) => Err(Fact::Setup { what: format!("cannot remove {}: {e}", path.display()) }),
        }
    }

    async fn close_all(&mut self) {
        for (_, mut c) in self.clients.drain() {
            c.close_now().await;
        }
        self.dgram.clear();
    }
}
