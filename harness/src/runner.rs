//! Plays a [`Scenario`] against a [`Target`] and keeps a transcript.
//!
//! Every client has a writer task (sends go out while the client reads, so a large send can never
//! deadlock against its own reply) and a reader driven by the steps. Every wait has a deadline:
//! a broken target fails the scenario, it never hangs the run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};

use crate::addr::{Endpoint, Transport};
use crate::net::{self, Conn};
use crate::proto::Transform;
use crate::scenario::{Action, PathFixture, Payload, Scenario, Step, Steps, TimedStep};
use crate::target::Target;

/// Runner settings.
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

/// The result of one scenario run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip(String),
}

/// Where and why a scenario failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The client (or `target`) whose step failed.
    pub client: String,
    /// 1-based position of the step in the scenario's transcript.
    pub step_index: usize,
    pub step: String,
    pub message: String,
}

/// One line of a transcript.
#[derive(Clone, Debug)]
pub struct Event {
    /// Since the scenario started.
    pub at: Duration,
    pub took: Duration,
    pub client: String,
    pub step: String,
    pub ok: bool,
    pub note: String,
}

/// One scenario over one transport against one target.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub scenario: String,
    pub about: String,
    pub transport: Transport,
    pub target: String,
    pub verdict: Verdict,
    pub failure: Option<Failure>,
    pub duration: Duration,
    pub transcript: Vec<Event>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }

    /// What failed, in one line.
    pub fn summary(&self) -> String {
        match (&self.verdict, &self.failure) {
            (Verdict::Pass, _) => "passed".into(),
            (Verdict::Skip(why), _) => format!("skipped: {why}"),
            (Verdict::Fail, Some(f)) => {
                format!("client `{}`, step {} `{}`: {}", f.client, f.step_index, f.step, f.message)
            }
            (Verdict::Fail, None) => "failed".into(),
        }
    }

    /// The full report: verdict, failure and transcript.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let verdict = match &self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip(_) => "SKIP",
        };
        let _ = writeln!(s, "{verdict} {} over {} against {}", self.scenario, self.transport, self.target);
        if !self.about.is_empty() {
            let _ = writeln!(s, "  checks: {}", self.about);
        }
        if self.verdict != Verdict::Pass {
            let _ = writeln!(s, "  {}", self.summary());
        }
        if !self.transcript.is_empty() {
            let _ = writeln!(s, "  transcript:");
            for e in &self.transcript {
                let mark = if e.ok { "ok  " } else { "FAIL" };
                let _ = writeln!(
                    s,
                    "    {:>8.3}s {:>9}  {:<8} {:<34} {mark} {}",
                    e.at.as_secs_f64(),
                    format_duration(e.took),
                    e.client,
                    e.step,
                    e.note
                );
            }
        }
        s
    }
}

/// `1.2ms`, `340µs`, `2.50s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// Runs scenarios on a runtime of its own.
pub struct Runner {
    rt: tokio::runtime::Runtime,
    opts: RunOpts,
}

impl Runner {
    pub fn new(opts: RunOpts) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(Runner { rt, opts })
    }

    /// Run one scenario. The target is started first if it is not running.
    pub fn run(&self, scenario: &Scenario, target: &mut dyn Target) -> Outcome {
        let endpoint = target.endpoint();
        let mut outcome = Outcome {
            scenario: scenario.name().to_string(),
            about: scenario.description().to_string(),
            transport: endpoint.transport(),
            target: target.describe(),
            verdict: Verdict::Pass,
            failure: None,
            duration: Duration::ZERO,
            transcript: vec![],
        };
        if let Some(why) = scenario.skip_reason(endpoint.transport(), target.model(), target.controllable()) {
            outcome.verdict = Verdict::Skip(why);
            return outcome;
        }
        let t0 = Instant::now();
        let mut ctx = Ctx {
            target,
            opts: &self.opts,
            t0,
            clients: HashMap::new(),
            transcript: vec![],
            transform: Transform::Upper,
        };
        let result = match ctx.target.start() {
            Err(e) => Err(Failure {
                client: "target".into(),
                step_index: 0,
                step: "start".into(),
                message: format!("the target did not start: {e}"),
            }),
            Ok(()) => {
                ctx.transform = ctx.target.transform();
                let deadline = scenario.deadline;
                match self
                    .rt
                    .block_on(async { tokio::time::timeout(deadline, ctx.run_actions(&scenario.actions)).await })
                {
                    Ok(r) => r,
                    Err(_) => Err(Failure {
                        client: "scenario".into(),
                        step_index: ctx.transcript.len() + 1,
                        step: "(whole scenario)".into(),
                        message: format!("did not finish within {}", format_duration(deadline)),
                    }),
                }
            }
        };
        // Close every client before asking the target how it is.
        self.rt.block_on(ctx.close_all());
        let health = ctx.target.health(result.is_err());
        outcome.transcript = std::mem::take(&mut ctx.transcript);
        outcome.duration = t0.elapsed();
        match (result, health) {
            (Ok(()), Ok(())) => {}
            (Ok(()), Err(e)) => {
                outcome.verdict = Verdict::Fail;
                outcome.failure = Some(Failure {
                    client: "target".into(),
                    step_index: outcome.transcript.len(),
                    step: "(after the scenario)".into(),
                    message: e,
                });
            }
            (Err(mut f), health) => {
                if let Err(e) = health {
                    let _ = write!(f.message, "; {e}");
                }
                outcome.verdict = Verdict::Fail;
                outcome.failure = Some(f);
            }
        }
        outcome
    }
}

type StepResult = Result<String, String>;

struct Ctx<'a> {
    target: &'a mut dyn Target,
    opts: &'a RunOpts,
    t0: Instant,
    clients: HashMap<String, Client>,
    transcript: Vec<Event>,
    transform: Transform,
}

impl Ctx<'_> {
    fn record(&mut self, client: &str, step: String, started: Instant, result: &StepResult) {
        let (ok, note) = match result {
            Ok(n) => (true, n.clone()),
            Err(e) => (false, e.clone()),
        };
        self.transcript.push(Event {
            at: started.duration_since(self.t0),
            took: started.elapsed(),
            client: client.to_string(),
            step,
            ok,
            note,
        });
    }

    fn fail(&self, client: &str, step: String, message: String) -> Failure {
        Failure { client: client.to_string(), step_index: self.transcript.len(), step, message }
    }

    async fn run_actions(&mut self, actions: &[Action]) -> Result<(), Failure> {
        for action in actions {
            match action {
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
                    self.record("-", format!("wait(ms({}))", d.as_millis()), started, &Ok(String::new()));
                }
                other => self.target_action(other)?,
            }
        }
        Ok(())
    }

    async fn run_steps(&mut self, client: &mut Client, steps: &Steps) -> Result<(), Failure> {
        for t in &steps.steps {
            let started = Instant::now();
            let r = client.step(t, &self.target.endpoint(), self.transform, self.opts).await;
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
            let (steps, endpoint, transform, opts, t0) =
                (steps.clone(), endpoint.clone(), self.transform, self.opts.clone(), self.t0);
            set.spawn(async move {
                let mut events = vec![];
                let mut failure = None;
                for t in &steps.steps {
                    let started = Instant::now();
                    let r = client.step(t, &endpoint, transform, &opts).await;
                    let (ok, note) = match &r {
                        Ok(n) => (true, n.clone()),
                        Err(e) => (false, e.clone()),
                    };
                    events.push(Event {
                        at: started - t0,
                        took: started.elapsed(),
                        client: client.name.clone(),
                        step: t.step.to_code(),
                        ok,
                        note,
                    });
                    if let Err(e) = r {
                        failure = Some((t.step.to_code(), e));
                        break;
                    }
                }
                (client, events, failure)
            });
        }
        let mut first_failure = None;
        while let Some(joined) = set.join_next().await {
            let (client, events, failure) = joined.expect("client task panicked");
            self.transcript.extend(events);
            if let (Some((step, msg)), None) = (failure, &first_failure) {
                first_failure = Some(self.fail(&client.name, step, msg));
            }
            self.clients.insert(client.name.clone(), client);
        }
        self.transcript.sort_by_key(|e| e.at);
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
                        let r = Err(e.clone());
                        self.record(&client.name, code.clone(), step_started, &r);
                        return Err(self.fail(&client.name, code, format!("connection {i} of {count}: {e}")));
                    }
                }
            }
            client.close_now().await;
        }
        if count > SHOWN {
            let note = format!("{} more connections, all ok", count - SHOWN);
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
            Action::StopTarget => ("stop_target()".to_string(), self.target.stop().map(|()| "stopped".to_string())),
            Action::StartTarget => (
                "start_target()".to_string(),
                self.target.start().map(|()| format!("listening on {}", self.target.endpoint())),
            ),
            Action::ExpectStartFailure => ("expect_start_failure()".to_string(), self.expect_start_failure()),
            Action::PutAtPath(f) => (format!("put_at_path({f:?})"), self.put_at_path(f)),
            Action::ExpectAtPath(f) => (format!("expect_at_path({f:?})"), self.expect_at_path(f)),
            Action::ClearPath => ("clear_path()".to_string(), self.clear_path()),
            _ => unreachable!("client actions are run elsewhere"),
        };
        self.record("target", code.clone(), started, &r);
        r.map(|_| ()).map_err(|e| self.fail("target", code, e))
    }

    fn unix_path(&self) -> Result<std::path::PathBuf, String> {
        match self.target.endpoint() {
            Endpoint::Unix(p) => Ok(p),
            other => Err(format!("needs a Unix socket path; the target is at {other}")),
        }
    }

    fn expect_start_failure(&mut self) -> StepResult {
        match self.target.start() {
            Err(e) => Ok(format!("refused to start: {e}")),
            Ok(()) => {
                let _ = self.target.stop();
                Err("the server started although it should have refused".into())
            }
        }
    }

    fn put_at_path(&mut self, f: &PathFixture) -> StepResult {
        let path = self.unix_path()?;
        let _ = std::fs::remove_file(&path);
        match f {
            PathFixture::StaleSocket => {
                let l = std::os::unix::net::UnixListener::bind(&path)
                    .map_err(|e| format!("cannot make a stale socket: {e}"))?;
                drop(l); // closing does not unlink: the file stays, with nobody listening
                Ok(format!("stale socket at {}", path.display()))
            }
            PathFixture::RegularFile(bytes) => {
                std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(format!("regular file of {} bytes at {}", bytes.len(), path.display()))
            }
        }
    }

    fn expect_at_path(&mut self, f: &PathFixture) -> StepResult {
        use std::os::unix::fs::FileTypeExt;
        let path = self.unix_path()?;
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{} is gone: {e}", path.display()))?;
        match f {
            PathFixture::StaleSocket if meta.file_type().is_socket() => Ok("still a socket".into()),
            PathFixture::StaleSocket => Err(format!("{} is no longer a socket", path.display())),
            PathFixture::RegularFile(want) => {
                if !meta.file_type().is_file() {
                    return Err(format!("{} is no longer a regular file", path.display()));
                }
                let got = std::fs::read(&path).map_err(|e| e.to_string())?;
                if &got == want {
                    Ok("regular file intact".into())
                } else {
                    Err(format!("{} was changed: {}", path.display(), mismatch(&Transform::Echo.to_vec(want), &got, 0)))
                }
            }
        }
    }

    fn clear_path(&mut self) -> StepResult {
        let path = self.unix_path()?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(format!("removed {}", path.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok("nothing there".into()),
            Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
        }
    }

    async fn close_all(&mut self) {
        for (_, mut c) in self.clients.drain() {
            c.close_now().await;
        }
    }
}

enum WriteCmd {
    Data(Arc<[u8]>),
    Shutdown,
}

#[derive(Clone, Debug, Default)]
struct WriteProgress {
    written: u64,
    shut: bool,
    error: Option<String>,
}

struct Writer {
    tx: mpsc::UnboundedSender<WriteCmd>,
    progress: watch::Receiver<WriteProgress>,
    task: tokio::task::JoinHandle<()>,
    queued: u64,
}

async fn write_loop(
    mut wh: WriteHalf<Conn>,
    mut rx: mpsc::UnboundedReceiver<WriteCmd>,
    progress: watch::Sender<WriteProgress>,
) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            WriteCmd::Data(buf) => {
                let mut off = 0;
                while off < buf.len() {
                    match wh.write(&buf[off..]).await {
                        Ok(0) => {
                            progress.send_modify(|p| p.error = Some("write returned 0".into()));
                            return;
                        }
                        Ok(n) => {
                            off += n;
                            progress.send_modify(|p| p.written += n as u64);
                        }
                        Err(e) => {
                            progress.send_modify(|p| p.error = Some(describe_io(&e)));
                            return;
                        }
                    }
                }
            }
            WriteCmd::Shutdown => {
                let r = wh.shutdown().await;
                progress.send_modify(|p| match r {
                    Ok(()) => p.shut = true,
                    Err(e) => p.error = Some(describe_io(&e)),
                });
            }
        }
    }
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "connection reset by the server".into(),
        io::ErrorKind::BrokenPipe => "broken pipe (the server closed the connection)".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        _ => e.to_string(),
    }
}

/// A connected client: reader here, writer on a task.
struct Client {
    name: String,
    reader: Option<ReadHalf<Conn>>,
    writer: Option<Writer>,
    fd: RawFd,
    /// Bytes sent whose reply has not been checked yet.
    unchecked: Vec<u8>,
    received: u64,
    buf: Vec<u8>,
}

impl Client {
    fn new(name: &str) -> Self {
        Client {
            name: name.to_string(),
            reader: None,
            writer: None,
            fd: -1,
            unchecked: vec![],
            received: 0,
            buf: vec![],
        }
    }

    fn writer_error(&self) -> Option<String> {
        self.writer.as_ref().and_then(|w| w.progress.borrow().error.clone())
    }

    async fn step(&mut self, t: &TimedStep, endpoint: &Endpoint, transform: Transform, opts: &RunOpts) -> StepResult {
        if !matches!(t.step, Step::Connect | Step::Wait(_)) && self.reader.is_none() {
            return Err("not connected (add .connect() first)".into());
        }
        match &t.step {
            Step::Connect => self.connect(endpoint, t.within.unwrap_or(opts.connect_timeout)).await,
            Step::Send(p) => self.send(p),
            Step::Flush => self.flush(t.within.unwrap_or(opts.reply_deadline(self.unchecked.len()))).await,
            Step::ExpectReply { of, slowly } => {
                let expected: Vec<u8> = match of {
                    Some(p) => transform.to_vec(&p.bytes()),
                    None => transform.to_vec(&self.unchecked),
                };
                if expected.is_empty() {
                    return Err("nothing was sent, so no reply can be expected".into());
                }
                let deadline = t.within.unwrap_or(opts.reply_deadline(expected.len()));
                self.expect_reply(&expected, *slowly, deadline, opts.step_timeout).await
            }
            Step::ExpectPartialReply(n) => {
                if (*n).min(self.unchecked.len()) == 0 {
                    return Err("nothing was sent, so no reply can be expected".into());
                }
                let started = Instant::now();
                let take = self.read_pending_prefix(*n, transform, t.within, opts).await?;
                Ok(format!(
                    "first {take} bytes in {}; {} still pending",
                    format_duration(started.elapsed()),
                    self.unchecked.len()
                ))
            }
            Step::ExpectSilence(d) => self.expect_silence(*d).await,
            Step::ExpectEof => self.expect_eof(t.within.unwrap_or(opts.step_timeout)).await,
            Step::HalfClose => {
                // Queued behind the data: the writer shuts its side once everything is sent,
                // while this client goes on reading.
                let w = self.writer.as_mut().expect("connected");
                w.tx.send(WriteCmd::Shutdown).map_err(|_| "the writer has stopped".to_string())?;
                Ok(format!("write side shuts after {} queued bytes", w.queued))
            }
            Step::Close => {
                self.flush(t.within.unwrap_or(opts.reply_deadline(self.unchecked.len()))).await?;
                self.close_now().await;
                Ok("closed".into())
            }
            Step::Reset => {
                // SAFETY: the fd belongs to this client's open socket until close_now below.
                let sock = unsafe { BorrowedFd::borrow_raw(self.fd) };
                socket2::SockRef::from(&sock).set_linger(Some(Duration::ZERO)).map_err(|e| e.to_string())?;
                self.close_now().await;
                Ok("reset (SO_LINGER 0, close)".into())
            }
            Step::VanishMidReply { after } => {
                let pending = self.unchecked.len();
                let take = self.read_pending_prefix(*after, transform, t.within, opts).await?;
                self.close_now().await;
                Ok(format!("read {take} of {pending} reply bytes, then closed"))
            }
            Step::Wait(d) => {
                tokio::time::sleep(*d).await;
                Ok(String::new())
            }
        }
    }

    /// Read and check the first `n` bytes (at most what is pending) of the pending reply; the rest
    /// stays pending. Returns how many were read.
    async fn read_pending_prefix(
        &mut self,
        n: usize,
        transform: Transform,
        within: Option<Duration>,
        opts: &RunOpts,
    ) -> Result<usize, String> {
        let take = n.min(self.unchecked.len());
        if take > 0 {
            let expected = transform.to_vec(&self.unchecked[..take]);
            let deadline = within.unwrap_or(opts.reply_deadline(take));
            self.read_checked(&expected, None, deadline, opts.step_timeout).await?;
        }
        Ok(take)
    }

    async fn connect(&mut self, endpoint: &Endpoint, timeout: Duration) -> StepResult {
        if self.reader.is_some() {
            return Err("already connected".into());
        }
        let conn = net::connect(endpoint, timeout).await.map_err(|e| e.to_string())?;
        self.fd = match &conn {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        };
        let (rd, wr) = tokio::io::split(conn);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ptx, prx) = watch::channel(WriteProgress::default());
        let task = tokio::spawn(write_loop(wr, rx, ptx));
        self.reader = Some(rd);
        self.writer = Some(Writer { tx, progress: prx, task, queued: 0 });
        self.unchecked.clear();
        self.received = 0;
        self.buf = vec![0; 64 * 1024];
        Ok(format!("connected to {endpoint}"))
    }

    fn send(&mut self, p: &Payload) -> StepResult {
        let bytes: Arc<[u8]> = p.bytes().into();
        self.unchecked.extend_from_slice(&bytes);
        let w = self.writer.as_mut().expect("connected");
        w.queued += bytes.len() as u64;
        let n = bytes.len();
        w.tx.send(WriteCmd::Data(bytes)).map_err(|_| "the writer has stopped".to_string())?;
        Ok(format!("{n} bytes queued"))
    }

    async fn flush(&mut self, deadline: Duration) -> StepResult {
        let w = self.writer.as_mut().expect("connected");
        let queued = w.queued;
        let mut progress = w.progress.clone();
        let waited = tokio::time::timeout(deadline, progress.wait_for(|p| p.written >= queued || p.error.is_some()))
            .await
            .map(|r| r.map(|p| p.clone()));
        match waited {
            Ok(Ok(p)) => match &p.error {
                Some(e) => Err(format!("sending failed after {} of {queued} bytes: {e}", p.written)),
                None => Ok(format!("{queued} bytes sent")),
            },
            Ok(Err(_)) => Err("the writer has stopped".into()),
            Err(_) => {
                let written = w.progress.borrow().written;
                Err(format!(
                    "only {written} of {queued} bytes could be sent within {} (is the server reading?)",
                    format_duration(deadline)
                ))
            }
        }
    }

    async fn expect_reply(
        &mut self,
        expected: &[u8],
        slowly: Option<(usize, Duration)>,
        deadline: Duration,
        stall: Duration,
    ) -> StepResult {
        let started = Instant::now();
        self.read_checked(expected, slowly, deadline, stall).await?;
        // Anything more, right away, when nothing else is outstanding, is data nobody asked for.
        if self.unchecked.is_empty() {
            let rd = self.reader.as_mut().expect("connected");
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::ZERO, rd.read(&mut self.buf)).await {
                if n > 0 {
                    return Err(format!(
                        "{n} bytes more than the reply of {} bytes: {}",
                        expected.len(),
                        excerpt(&self.buf[..n])
                    ));
                }
            }
        }
        Ok(format!("{} bytes in {}", expected.len(), format_duration(started.elapsed())))
    }

    /// Read exactly `expected.len()` bytes and compare them as they come.
    async fn read_checked(
        &mut self,
        expected: &[u8],
        slowly: Option<(usize, Duration)>,
        deadline: Duration,
        stall: Duration,
    ) -> Result<(), String> {
        let until = tokio::time::Instant::now() + deadline;
        let base = self.received;
        let mut got = 0usize;
        let max_read = slowly.map_or(self.buf.len(), |(chunk, _)| chunk.min(self.buf.len()));
        while got < expected.len() {
            let want = (expected.len() - got).min(max_read);
            let rd = self.reader.as_mut().expect("connected");
            let wait_until = until.min(tokio::time::Instant::now() + stall);
            let n = match tokio::time::timeout_at(wait_until, rd.read(&mut self.buf[..want])).await {
                Err(_) => {
                    let mut msg = if wait_until < until {
                        format!("no reply byte for {}: got {got} of {} bytes", format_duration(stall), expected.len())
                    } else {
                        format!(
                            "no complete reply within {}: got {got} of {} bytes",
                            format_duration(deadline),
                            expected.len()
                        )
                    };
                    if let Some(e) = self.writer_error() {
                        let _ = write!(msg, " (sending failed: {e})");
                    }
                    return Err(msg);
                }
                Ok(Err(e)) => return Err(format!("{} after {got} of {} reply bytes", describe_io(&e), expected.len())),
                Ok(Ok(0)) => {
                    return Err(format!(
                        "the server closed the connection after {got} of {} reply bytes",
                        expected.len()
                    ))
                }
                Ok(Ok(n)) => n,
            };
            let want_bytes = &expected[got..got + n];
            if &self.buf[..n] != want_bytes {
                let at = base + got as u64;
                return Err(format!("wrong reply: {}", mismatch(&expected[got..], &self.buf[..n], at)));
            }
            got += n;
            self.received += n as u64;
            if let Some((_, pause)) = slowly {
                tokio::time::sleep(pause).await;
            }
        }
        let used = expected.len().min(self.unchecked.len());
        self.unchecked.drain(..used);
        Ok(())
    }

    async fn expect_silence(&mut self, d: Duration) -> StepResult {
        let started = Instant::now();
        let rd = self.reader.as_mut().expect("connected");
        match tokio::time::timeout(d, rd.read(&mut self.buf)).await {
            Err(_) => Ok(format!("nothing for {}", format_duration(d))),
            Ok(Ok(0)) => Err(format!("the server closed the connection after {}", format_duration(started.elapsed()))),
            Ok(Ok(n)) => Err(format!(
                "got {n} bytes after {} while this client should get nothing: {}",
                format_duration(started.elapsed()),
                excerpt(&self.buf[..n])
            )),
            Ok(Err(e)) => Err(describe_io(&e)),
        }
    }

    async fn expect_eof(&mut self, deadline: Duration) -> StepResult {
        let started = Instant::now();
        if !self.unchecked.is_empty() {
            return Err(format!(
                "{} sent bytes have no checked reply yet (add .expect_reply() first)",
                self.unchecked.len()
            ));
        }
        let rd = self.reader.as_mut().expect("connected");
        match tokio::time::timeout(deadline, rd.read(&mut self.buf)).await {
            Err(_) => Err(format!("the server did not close the connection within {}", format_duration(deadline))),
            Ok(Ok(0)) => Ok(format!("closed by the server after {}", format_duration(started.elapsed()))),
            Ok(Ok(n)) => {
                Err(format!("expected the connection to close, got {n} more bytes: {}", excerpt(&self.buf[..n])))
            }
            Ok(Err(e)) => Err(format!("expected a clean close, got: {}", describe_io(&e))),
        }
    }

    /// Close at once: stop the writer, drop the socket.
    async fn close_now(&mut self) {
        if let Some(w) = self.writer.take() {
            w.task.abort();
            let _ = w.task.await;
        }
        self.reader = None;
        self.fd = -1;
    }
}

/// Up to 48 bytes, escaped, with their count.
pub fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(48)];
    let more = if bytes.len() > shown.len() { "…" } else { "" };
    format!("\"{}\"{more}", shown.escape_ascii())
}

/// Where `actual` first differs from `expected`, with escaped excerpts around it.
pub fn mismatch(expected: &[u8], actual: &[u8], base: u64) -> String {
    let i = expected.iter().zip(actual).position(|(a, b)| a != b).unwrap_or(expected.len().min(actual.len()));
    let from = i.saturating_sub(8);
    let show = |b: &[u8]| {
        let to = b.len().min(i + 24);
        excerpt(&b[from.min(to)..to])
    };
    let byte = |b: &[u8]| b.get(i).map_or("nothing".to_string(), |x| format!("0x{x:02x} {:?}", *x as char));
    format!(
        "first difference at byte {} of the stream: expected {}, got {}; expected {} got {}",
        base + i as u64,
        byte(expected),
        byte(actual),
        show(expected),
        show(actual)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_names_the_offset_and_bytes() {
        let m = mismatch(b"HELLO WORLD", b"HELLO world", 100);
        assert!(m.contains("byte 106"), "{m}");
        assert!(m.contains("0x57 'W'") && m.contains("0x77 'w'"), "{m}");
    }

    #[test]
    fn excerpt_escapes_binary() {
        assert_eq!(excerpt(b"a\x00\xff"), r#""a\x00\xff""#);
    }
}
