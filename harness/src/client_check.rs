//! Checking clients: sockcheck plays the server, types into the client's stdin and reads what it
//! prints (`sockcheck check-client`).
//!
//! A [`ClientScenario`] is a value like a server [`crate::scenario::Scenario`]: a name, what it
//! checks, how the server behaves ([`Serve`]) and the steps: lines typed on stdin, and what must
//! follow (the printed replies, the bytes the server got, the exit status within a deadline, the
//! CPU time used while waiting, no traceback on stderr).
//!
//! The client is a command template (placeholders as in [`crate::spawn`]) run through `sh -c` in
//! a process group of its own; its stdout and stderr are drained all the time, so a chatty client
//! never blocks on a full pipe. Results are [`Outcome`]s, reported like `sockcheck check`.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::addr::{Endpoint, Transport};
use crate::net::{self, AsyncListener, Conn, ListenOpts};
use crate::proto::{strip_line, Transform};
use crate::runner::{excerpt, format_duration, mismatch, Event, Failure, Outcome, Verdict};
use crate::scenario::Payload;
use crate::spawn::{self, Placeholders};

/// How the server sockcheck plays answers the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serve {
    /// Each `recv` is answered at once with its uppercase (the tutorial's server).
    Normally,
    /// Replies go out in `size`-byte pieces, each written separately after `pause`.
    InPieces { size: usize, pause: Duration },
    /// Replies are cut inside every multi-byte UTF-8 character, pieces `pause` apart.
    SplittingUtf8 { pause: Duration },
    /// `k` messages are answered; the next one is read and the connection closed cleanly (FIN).
    CloseAfter(usize),
    /// `k` messages are answered; the next one is left unread and the connection reset (RST).
    ResetAfter(usize),
}

impl Serve {
    fn to_code(&self) -> String {
        match self {
            Serve::Normally => "reply_normally()".into(),
            Serve::InPieces { size, pause } => format!("reply_in_pieces({size}, ms({}))", pause.as_millis()),
            Serve::SplittingUtf8 { pause } => format!("split_utf8(ms({}))", pause.as_millis()),
            Serve::CloseAfter(k) => format!("close_after({k})"),
            Serve::ResetAfter(k) => format!("reset_after({k})"),
        }
    }
}

/// Answer every message at once.
pub fn reply_normally() -> Serve {
    Serve::Normally
}
/// Answer in `size`-byte pieces with `pause` before each.
pub fn reply_in_pieces(size: usize, pause: Duration) -> Serve {
    Serve::InPieces { size: size.max(1), pause }
}
/// Answer with every multi-byte UTF-8 character split across writes.
pub fn split_utf8(pause: Duration) -> Serve {
    Serve::SplittingUtf8 { pause }
}
/// Answer `k` messages, then close on the next.
pub fn close_after(k: usize) -> Serve {
    Serve::CloseAfter(k)
}
/// Answer `k` messages, then reset on the next.
pub fn reset_after(k: usize) -> Serve {
    Serve::ResetAfter(k)
}

/// The exit status a step expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A non-zero exit code (not a signal: a crash is not an answer).
    Failure,
}

/// One step of a client scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// A line typed on stdin (a newline is added).
    Type(Payload),
    /// Close stdin (end of input).
    EndInput,
    /// Everything printed so far is exactly the replies to the lines typed so far (the
    /// uppercase of each non-empty stripped line), within the deadline.
    ExpectReplies,
    /// Everything printed so far is exactly these lines.
    ExpectPrinted(Vec<String>),
    /// The server has received exactly these messages (back to back: the protocol has no framing).
    ExpectSent(Vec<String>),
    /// The client exits within the deadline, with this status, without spinning meanwhile.
    ExpectExit(Exit),
    /// For this long the client stays alive and uses (almost) no CPU.
    ExpectIdle(Duration),
    /// Nothing on stderr looks like a traceback or a panic.
    ExpectNoTraceback,
}

impl ClientStep {
    pub fn to_code(&self) -> String {
        match self {
            ClientStep::Type(p) => format!("type_line({})", p.to_code()),
            ClientStep::EndInput => "end_input()".into(),
            ClientStep::ExpectReplies => "expect_replies()".into(),
            ClientStep::ExpectPrinted(l) => format!("expect_printed({l:?})"),
            ClientStep::ExpectSent(l) => format!("expect_sent({l:?})"),
            ClientStep::ExpectExit(Exit::Success) => "expect_exit(Exit::Success)".into(),
            ClientStep::ExpectExit(Exit::Failure) => "expect_exit(Exit::Failure)".into(),
            ClientStep::ExpectIdle(d) => format!("expect_idle(ms({}))", d.as_millis()),
            ClientStep::ExpectNoTraceback => "expect_no_traceback()".into(),
        }
    }
}

/// A step and its own deadline, if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedClientStep {
    pub step: ClientStep,
    pub within: Option<Duration>,
}

/// The steps of a client scenario, built in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct ClientSteps {
    pub steps: Vec<TimedClientStep>,
}

impl ClientSteps {
    fn push(mut self, step: ClientStep) -> Self {
        self.steps.push(TimedClientStep { step, within: None });
        self
    }
    pub fn type_line(self, line: impl Into<Payload>) -> Self {
        self.push(ClientStep::Type(line.into()))
    }
    pub fn type_lines<I: IntoIterator<Item = S>, S: Into<Payload>>(mut self, lines: I) -> Self {
        for l in lines {
            self = self.type_line(l);
        }
        self
    }
    pub fn end_input(self) -> Self {
        self.push(ClientStep::EndInput)
    }
    pub fn expect_replies(self) -> Self {
        self.push(ClientStep::ExpectReplies)
    }
    pub fn expect_printed<I: IntoIterator<Item = S>, S: Into<String>>(self, lines: I) -> Self {
        self.push(ClientStep::ExpectPrinted(lines.into_iter().map(Into::into).collect()))
    }
    pub fn expect_sent<I: IntoIterator<Item = S>, S: Into<String>>(self, messages: I) -> Self {
        self.push(ClientStep::ExpectSent(messages.into_iter().map(Into::into).collect()))
    }
    pub fn expect_exit(self, exit: Exit) -> Self {
        self.push(ClientStep::ExpectExit(exit))
    }
    pub fn expect_idle(self, d: Duration) -> Self {
        self.push(ClientStep::ExpectIdle(d))
    }
    pub fn expect_no_traceback(self) -> Self {
        self.push(ClientStep::ExpectNoTraceback)
    }
    /// Give the previous step this deadline instead of the default.
    pub fn within(mut self, d: Duration) -> Self {
        if let Some(last) = self.steps.last_mut() {
            last.within = Some(d);
        }
        self
    }
}

/// A check of a client: how the server behaves, and the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ClientScenario {
    name: String,
    about: String,
    pub serve: Serve,
    pub steps: ClientSteps,
    /// The whole scenario's deadline.
    pub deadline: Duration,
}

impl ClientScenario {
    pub fn new(name: impl Into<String>) -> Self {
        ClientScenario {
            name: name.into(),
            about: String::new(),
            serve: Serve::Normally,
            steps: ClientSteps::default(),
            deadline: Duration::from_secs(60),
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> &str {
        &self.about
    }
    pub fn about(mut self, text: impl Into<String>) -> Self {
        self.about = text.into();
        self
    }
    pub fn serve(mut self, serve: Serve) -> Self {
        self.serve = serve;
        self
    }
    pub fn steps(mut self, f: impl FnOnce(ClientSteps) -> ClientSteps) -> Self {
        self.steps = f(std::mem::take(&mut self.steps));
        self
    }

    /// The scenario as the code that builds it.
    pub fn to_code(&self) -> String {
        let mut s = format!("ClientScenario::new({:?})\n    .about({:?})\n", self.name, self.about);
        let _ = writeln!(s, "    .serve({})", self.serve.to_code());
        let steps: Vec<String> = self
            .steps
            .steps
            .iter()
            .map(|t| match t.within {
                Some(d) => format!("{}.within(ms({}))", t.step.to_code(), d.as_millis()),
                None => t.step.to_code(),
            })
            .collect();
        let _ = write!(s, "    .steps(|c| c.{})", steps.join("."));
        s
    }
}

/// Keep the scenarios whose names contain any of `filters` (all when empty).
pub fn select(scenarios: Vec<ClientScenario>, filters: &[String]) -> Vec<ClientScenario> {
    if filters.is_empty() {
        return scenarios;
    }
    scenarios.into_iter().filter(|s| filters.iter().any(|f| s.name().contains(f.as_str()))).collect()
}

/// The client under test: a command template and how reports name it.
#[derive(Clone, Debug)]
pub struct ClientCommand {
    pub template: String,
    pub label: String,
}

impl ClientCommand {
    /// A command given by the user: reports show it as written.
    pub fn spawn(template: &str) -> Self {
        ClientCommand { template: template.to_string(), label: template.to_string() }
    }

    /// The built-in reference client: `EXE client --tcp {addr}` or `--unix {path}`.
    pub fn reference(exe: &Path, transport: Transport) -> Self {
        let exe = shell_quote(&exe.to_string_lossy());
        let template = match transport {
            Transport::Tcp => format!("exec {exe} client --tcp {{addr}}"),
            Transport::Unix => format!("exec {exe} client --unix {{path}}"),
        };
        ClientCommand { template, label: "built-in client".into() }
    }
}

/// `'...'` for `sh`, braces doubled so the placeholder expansion leaves them alone.
fn shell_quote(s: &str) -> String {
    let quoted = format!("'{}'", s.replace('\'', r"'\''"));
    quoted.replace('{', "{{").replace('}', "}}")
}

/// Settings of a client check.
#[derive(Clone, Debug)]
pub struct ClientOpts {
    /// Default deadline of a step (waiting for output, for the server to get bytes, for an exit).
    pub step_timeout: Duration,
    /// A prompt the client prints before reading each line (e.g. the tutorial's `>>:`), removed
    /// from the start of output lines before they are compared.
    pub prompt: Option<String>,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts { step_timeout: Duration::from_secs(5), prompt: None }
    }
}

/// Runs client scenarios; owns the runtime of the server it plays.
pub struct ClientRunner {
    rt: tokio::runtime::Runtime,
    opts: ClientOpts,
}

/// What the server saw, shared with its tasks.
#[derive(Default)]
struct ServerLog {
    connections: usize,
    received: Vec<u8>,
    replied: u64,
    notes: Vec<String>,
}

type Shared<T> = Arc<(Mutex<T>, Condvar)>;

/// Bytes a child wrote to one of its pipes, and whether the pipe has closed.
#[derive(Default)]
struct PipeBuf {
    bytes: Vec<u8>,
    closed: bool,
}

/// Read `pipe` until it closes; with `keep`, only about the last `keep` bytes are kept.
fn drain(mut pipe: impl Read + Send + 'static, into: Shared<PipeBuf>, keep: Option<usize>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let (lock, cv) = &*into;
            let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
            if n == 0 {
                p.closed = true;
                cv.notify_all();
                return;
            }
            p.bytes.extend_from_slice(&buf[..n]);
            if let Some(keep) = keep.filter(|&k| p.bytes.len() > 2 * k) {
                let cut = p.bytes.len() - keep;
                p.bytes.drain(..cut);
            }
            cv.notify_all();
        }
    });
}

/// Process groups of running clients and the temp dirs of their sockets, for [`interrupted`].
static LIVE: Mutex<(Vec<i32>, Vec<std::path::PathBuf>)> = Mutex::new((Vec::new(), Vec::new()));

fn live() -> std::sync::MutexGuard<'static, (Vec<i32>, Vec<std::path::PathBuf>)> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// When sockcheck itself is interrupted (Ctrl-C): kill every client still running (they are in
/// process groups of their own, so the terminal's signal does not reach them) and remove the temp
/// dirs of the sockets. Call it from the signal-watching task before exiting.
pub fn interrupted() {
    let (groups, dirs) = std::mem::take(&mut *live());
    for pgid in groups {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The running client process.
struct Proc {
    child: Child,
    pgid: i32,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    stdout: Shared<PipeBuf>,
    stderr: Shared<PipeBuf>,
}

impl Proc {
    fn start(cmd: &str) -> io::Result<Proc> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let pgid = child.id() as i32;
        let stdout: Shared<PipeBuf> = Arc::default();
        let stderr: Shared<PipeBuf> = Arc::default();
        // Stdout is compared from its first byte; of stderr, the tail is what matters.
        drain(child.stdout.take().expect("piped"), stdout.clone(), None);
        drain(child.stderr.take().expect("piped"), stderr.clone(), Some(1 << 20));
        // A writer thread: a client that does not read its stdin must not block sockcheck.
        let mut pipe = child.stdin.take().expect("piped");
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            for chunk in rx {
                if pipe.write_all(&chunk).and_then(|()| pipe.flush()).is_err() {
                    return;
                }
            }
        });
        live().0.push(pgid);
        Ok(Proc { child, pgid, stdin: Some(tx), stdout, stderr })
    }

    fn status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// CPU time (user + system, children included) of every process in the client's group.
    fn cpu(&self) -> Duration {
        group_cpu(self.pgid)
    }

    fn stderr_tail(&self) -> String {
        let p = self.stderr.0.lock().unwrap_or_else(|e| e.into_inner());
        tail(&p.bytes, 5)
    }

    fn stop(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        self.stdin = None;
        let pg = Pid::from_raw(self.pgid);
        if self.status().is_none() {
            let _ = killpg(pg, Signal::SIGTERM);
            let until = Instant::now() + Duration::from_millis(500);
            while self.status().is_none() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Also whatever the shell left behind in the group.
        let _ = killpg(pg, Signal::SIGKILL);
        let _ = self.child.wait();
        live().0.retain(|&g| g != self.pgid);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `n` non-empty lines of `bytes`, joined with ` | `.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    let from = lines.len().saturating_sub(n);
    lines[from..].join(" | ")
}

/// `USER_HZ`: the unit of the `/proc` CPU figures, 100 on every Linux ABI.
const CLOCK_TICKS: u64 = 100;

/// Sum of utime, stime, cutime and cstime of the processes whose process group is `pgid`.
pub fn group_cpu(pgid: i32) -> Duration {
    let mut ticks = 0u64;
    let Ok(dir) = std::fs::read_dir("/proc") else { return Duration::ZERO };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|s| s.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // After the command name (in parentheses, may hold spaces): state ppid pgrp ... utime(14) stime cutime cstime.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 15 || f[2].parse::<i32>() != Ok(pgid) {
            continue;
        }
        ticks += f[11..15].iter().filter_map(|v| v.parse::<u64>().ok()).sum::<u64>();
    }
    Duration::from_millis(ticks * 1000 / CLOCK_TICKS)
}

fn describe_status(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig).map_or(format!("signal {sig}"), |s| s.to_string());
            format!("killed by {name}")
        }
        _ => s.to_string(),
    }
}

const TRACEBACK_MARKS: [&str; 4] =
    ["Traceback (most recent call last)", "panicked at", "Exception in thread", "Segmentation fault"];

type StepResult = Result<String, String>;

/// The state of one scenario run.
struct Run<'a> {
    opts: &'a ClientOpts,
    proc: Proc,
    log: Arc<Mutex<ServerLog>>,
    /// The lines the client should have printed by now.
    expected_out: Vec<Vec<u8>>,
}

impl ClientRunner {
    pub fn new(opts: ClientOpts) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        Ok(ClientRunner { rt, opts })
    }

    /// Play `scenario` with the client `cmd` over `transport`.
    pub fn run(&self, scenario: &ClientScenario, cmd: &ClientCommand, transport: Transport) -> Outcome {
        let mut outcome = Outcome {
            scenario: scenario.name().to_string(),
            about: scenario.description().to_string(),
            transport,
            target: cmd.label.clone(),
            verdict: Verdict::Pass,
            failure: None,
            duration: Duration::ZERO,
            transcript: vec![],
        };
        let t0 = Instant::now();
        let mut transcript = vec![];
        let result = self.play(scenario, cmd, transport, t0, &mut transcript);
        outcome.duration = t0.elapsed();
        outcome.transcript = transcript;
        if let Err(f) = result {
            outcome.verdict = Verdict::Fail;
            outcome.failure = Some(f);
        }
        outcome
    }

    fn play(
        &self,
        scenario: &ClientScenario,
        cmd: &ClientCommand,
        transport: Transport,
        t0: Instant,
        transcript: &mut Vec<Event>,
    ) -> Result<(), Failure> {
        let setup_failure =
            |message: String| Failure { client: "sockcheck".into(), step_index: 0, step: "start".into(), message };
        // Bind first, then fill in the real port: no window where the port could be taken.
        let dir = tempfile::Builder::new().prefix("sockcheck-").tempdir().map_err(|e| setup_failure(e.to_string()))?;
        let path = dir.path().join("echo.sock");
        live().1.push(dir.path().to_path_buf());
        let ask = match transport {
            Transport::Tcp => Endpoint::Tcp(([127, 0, 0, 1], 0).into()),
            Transport::Unix => Endpoint::Unix(path.clone()),
        };
        let listener = net::bind(&ask, &ListenOpts { backlog: 16, unix_mode: 0o600 })
            .map_err(|e| setup_failure(format!("cannot listen: {e}")))?;
        let endpoint = listener.endpoint.clone();
        let port = match &endpoint {
            Endpoint::Tcp(a) => a.port(),
            _ => 0,
        };
        let values = Placeholders { host: "127.0.0.1".into(), port, path };
        let command = spawn::expand(&cmd.template, &values).map_err(|e| setup_failure(e.to_string()))?;

        let log = Arc::new(Mutex::new(ServerLog::default()));
        let server = {
            let _guard = self.rt.enter();
            let socket = listener.socket;
            let serve = scenario.serve.clone();
            let log = log.clone();
            let accept = AsyncListener::from_std(socket).map_err(|e| setup_failure(e.to_string()))?;
            self.rt.spawn(accept_loop(accept, serve, log))
        };
        let _socket_file = listener.socket_file;

        let started = Instant::now();
        let proc = Proc::start(&command).map_err(|e| setup_failure(format!("cannot run `{command}`: {e}")))?;
        transcript.push(Event {
            at: started - t0,
            took: started.elapsed(),
            client: "sockcheck".into(),
            step: "start".into(),
            ok: true,
            note: format!("listening on {endpoint}; ran `{command}`"),
        });
        let mut run = Run { opts: &self.opts, proc, log: log.clone(), expected_out: vec![] };
        let until = Instant::now() + scenario.deadline;
        let mut result = Ok(());
        for (i, t) in scenario.steps.steps.iter().enumerate() {
            let started = Instant::now();
            let who = who(&t.step);
            let r = if started > until {
                Err(format!("the scenario did not finish within {}", format_duration(scenario.deadline)))
            } else {
                run.step(t)
            };
            let (ok, note) = match &r {
                Ok(n) => (true, n.clone()),
                Err(e) => (false, e.clone()),
            };
            transcript.push(Event {
                at: started - t0,
                took: started.elapsed(),
                client: who.into(),
                step: t.step.to_code(),
                ok,
                note,
            });
            if let Err(mut message) = r {
                if let Some(status) = run.proc.status() {
                    let _ = write!(message, " (the client ended: {})", describe_status(status));
                }
                run.settle_stderr();
                let stderr = run.proc.stderr_tail();
                if !stderr.is_empty() && t.step != ClientStep::ExpectNoTraceback {
                    let _ = write!(message, "; its stderr: {stderr}");
                }
                result = Err(Failure { client: who.into(), step_index: i + 2, step: t.step.to_code(), message });
                break;
            }
        }
        run.proc.stop();
        server.abort();
        let _ = self.rt.block_on(server);
        let log = log.lock().unwrap_or_else(|e| e.into_inner());
        let mut note = format!(
            "{} connection(s), {} bytes received, {} bytes replied",
            log.connections,
            log.received.len(),
            log.replied
        );
        for n in &log.notes {
            let _ = write!(note, "; {n}");
        }
        transcript.push(Event {
            at: Instant::now() - t0,
            took: Duration::ZERO,
            client: "server".into(),
            step: format!("serve({})", scenario.serve.to_code()),
            ok: true,
            note,
        });
        live().1.retain(|d| d != dir.path());
        drop(dir);
        result
    }
}

fn who(step: &ClientStep) -> &'static str {
    match step {
        ClientStep::Type(_) | ClientStep::EndInput => "stdin",
        ClientStep::ExpectReplies | ClientStep::ExpectPrinted(_) => "stdout",
        ClientStep::ExpectSent(_) => "server",
        ClientStep::ExpectExit(_) | ClientStep::ExpectIdle(_) => "process",
        ClientStep::ExpectNoTraceback => "stderr",
    }
}

impl Run<'_> {
    fn step(&mut self, t: &TimedClientStep) -> StepResult {
        let timeout = t.within.unwrap_or(self.opts.step_timeout);
        match &t.step {
            ClientStep::Type(p) => {
                let mut line = p.bytes();
                let msg = strip_line(&line);
                if !msg.is_empty() {
                    self.expected_out.push(Transform::Upper.to_vec(msg));
                }
                line.push(b'\n');
                let n = line.len();
                match &self.proc.stdin {
                    Some(tx) => {
                        tx.send(line).map_err(|_| "stdin is closed (the client stopped reading)".to_string())?;
                        Ok(format!("{n} bytes"))
                    }
                    None => Err("stdin was closed already".into()),
                }
            }
            ClientStep::EndInput => {
                self.proc.stdin = None;
                Ok("stdin closed".into())
            }
            ClientStep::ExpectReplies => {
                let expected = self.expected_out.clone();
                self.expect_printed(&expected, timeout)
            }
            ClientStep::ExpectPrinted(lines) => {
                let expected: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
                self.expected_out = expected.clone();
                self.expect_printed(&expected, timeout)
            }
            ClientStep::ExpectSent(msgs) => self.expect_sent(&msgs.concat().into_bytes(), timeout),
            ClientStep::ExpectExit(exit) => self.expect_exit(*exit, timeout),
            ClientStep::ExpectIdle(d) => self.expect_idle(*d),
            ClientStep::ExpectNoTraceback => {
                self.settle_stderr();
                let p = self.proc.stderr.0.lock().unwrap_or_else(|e| e.into_inner());
                let text = String::from_utf8_lossy(&p.bytes);
                match TRACEBACK_MARKS.iter().find_map(|m| text.find(m)) {
                    Some(i) => {
                        let shown: String = text[i..].lines().take(6).collect::<Vec<_>>().join(" | ");
                        Err(format!("stderr has a traceback: {shown}"))
                    }
                    None => Ok(format!("{} bytes on stderr, no traceback", p.bytes.len())),
                }
            }
        }
    }

    /// If the client has exited, wait (briefly) until its stderr pipe is drained and closed.
    fn settle_stderr(&mut self) {
        if self.proc.status().is_none() {
            return;
        }
        let stderr = self.proc.stderr.clone();
        let (lock, cv) = &*stderr;
        let until = Instant::now() + Duration::from_millis(500);
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !p.closed && Instant::now() < until {
            p = cv.wait_timeout(p, Duration::from_millis(20)).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// The complete lines printed so far, prompts removed.
    fn printed_lines(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        lines.pop(); // the unfinished last line (or the empty piece after the last newline)
        if let Some(prompt) = self.opts.prompt.as_deref().filter(|p| !p.is_empty()) {
            for l in &mut lines {
                let mut start = 0;
                while l[start..].starts_with(prompt.as_bytes()) {
                    start += prompt.len();
                }
                l.drain(..start);
            }
        }
        lines
    }

    fn expect_printed(&mut self, expected: &[Vec<u8>], timeout: Duration) -> StepResult {
        let started = Instant::now();
        let until = started + timeout;
        let stdout = self.proc.stdout.clone();
        let (lock, cv) = &*stdout;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut exited_at = None;
        loop {
            let lines = self.printed_lines(&p.bytes);
            // A wrong line fails at once; too few lines wait.
            for (i, (want, got)) in expected.iter().zip(&lines).enumerate() {
                if want != got {
                    return Err(format!(
                        "printed line {} is wrong ({} bytes, expected {}): {}",
                        i + 1,
                        got.len(),
                        want.len(),
                        mismatch(want, got, 0).replace("of the stream", "of the line")
                    ));
                }
            }
            if lines.len() > expected.len() {
                return Err(format!(
                    "printed {} lines, expected {}; line {} is {}",
                    lines.len(),
                    expected.len(),
                    expected.len() + 1,
                    excerpt(&lines[expected.len()])
                ));
            }
            if lines.len() == expected.len() {
                let total: usize = expected.iter().map(Vec::len).sum();
                return Ok(format!("{} lines ({total} bytes) as expected", expected.len()));
            }
            let now = Instant::now();
            // An exited client's last output may still be in the pipe: wait for the pipe to close
            // (or, if something else holds it open, a moment).
            if exited_at.is_none() && self.proc.status().is_some() {
                exited_at = Some(now);
            }
            let gone = p.closed || exited_at.is_some_and(|t| now - t > Duration::from_millis(500));
            if now >= until || gone {
                let partial = p.bytes.len() - p.bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let mut msg = if gone {
                    format!("the client ended after printing {} of {} lines", lines.len(), expected.len())
                } else {
                    format!("printed {} of {} lines within {}", lines.len(), expected.len(), format_duration(timeout))
                };
                if partial > 0 {
                    let _ = write!(msg, " and {partial} bytes of an unfinished line");
                }
                let _ = write!(msg, "; next expected: {}", excerpt(&expected[lines.len()]));
                let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
                let _ = match log.connections {
                    0 => write!(msg, " (the client never connected)"),
                    n => write!(msg, " (the server has had {n} connection(s), received {} bytes)", log.received.len()),
                };
                return Err(msg);
            }
            p = cv.wait_timeout(p, (until - now).min(Duration::from_millis(20))).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn expect_sent(&mut self, expected: &[u8], timeout: Duration) -> StepResult {
        let until = Instant::now() + timeout;
        loop {
            let received = self.log.lock().unwrap_or_else(|e| e.into_inner()).received.clone();
            if received.len() > expected.len() || received[..] != expected[..received.len()] {
                return Err(format!("the server received something else: {}", mismatch(expected, &received, 0)));
            }
            if received.len() == expected.len() {
                return Ok(format!("the server received exactly {} bytes", expected.len()));
            }
            if Instant::now() >= until {
                return Err(format!(
                    "the server received {} of {} bytes within {}",
                    received.len(),
                    expected.len(),
                    format_duration(timeout)
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn expect_exit(&mut self, exit: Exit, timeout: Duration) -> StepResult {
        let started = Instant::now();
        let cpu0 = self.proc.cpu();
        let mut cpu = cpu0;
        let mut sampled = Instant::now();
        loop {
            // Read the CPU time before reaping (a reaped child's figures are gone), every 25 ms:
            // a scan of /proc is not free, and this must not load the machine it measures.
            if sampled.elapsed() >= Duration::from_millis(25) {
                cpu = cpu.max(self.proc.cpu());
                sampled = Instant::now();
            }
            if let Some(status) = self.proc.status() {
                let waited = started.elapsed();
                let used = cpu.saturating_sub(cpu0);
                let spin = busy(used, waited);
                let ok = match exit {
                    Exit::Success => status.success(),
                    Exit::Failure => status.code().is_some_and(|c| c != 0),
                };
                let what = format!("{} after {}", describe_status(status), format_duration(waited));
                return match (ok, spin) {
                    (true, false) => {
                        let mut note = format!("{what}, {} of CPU meanwhile", format_duration(used));
                        let stderr = self.proc.stderr_tail();
                        if !stderr.is_empty() {
                            let _ = write!(note, "; stderr: {stderr}");
                        }
                        Ok(note)
                    }
                    (true, true) => {
                        Err(format!("{what}, but used {} of CPU while waiting (a busy loop)", format_duration(used)))
                    }
                    (false, _) => Err(format!(
                        "{what}; expected {}",
                        if exit == Exit::Success { "exit code 0" } else { "a non-zero exit code" }
                    )),
                };
            }
            let waited = started.elapsed();
            if waited >= timeout {
                let used = cpu.max(self.proc.cpu()).saturating_sub(cpu0);
                let how = if busy(used, waited) {
                    format!("it used {} of CPU meanwhile: a busy loop", format_duration(used))
                } else {
                    format!("it used {} of CPU meanwhile (blocked, e.g. waiting for input)", format_duration(used))
                };
                return Err(format!("the client did not exit within {}; {how}", format_duration(timeout)));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn expect_idle(&mut self, d: Duration) -> StepResult {
        let cpu0 = self.proc.cpu();
        let started = Instant::now();
        let until = started + d;
        while Instant::now() < until {
            if let Some(status) = self.proc.status() {
                return Err(format!(
                    "the client ended after {}: {}",
                    format_duration(started.elapsed()),
                    describe_status(status)
                ));
            }
            std::thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
        }
        let used = self.proc.cpu().saturating_sub(cpu0);
        // Ten percent of the time (at least one 10 ms tick), or it is polling, not waiting.
        if used > (d / 10).max(Duration::from_millis(20)) {
            Err(format!("used {} of CPU in {} while it had nothing to do", format_duration(used), format_duration(d)))
        } else {
            Ok(format!("{} of CPU in {}", format_duration(used), format_duration(d)))
        }
    }
}

/// Spinning: more than 300 ms of CPU and more than a quarter of the time waited (a blocked
/// client uses next to nothing; a spinning one a whole core, or what a loaded machine leaves it).
fn busy(used: Duration, waited: Duration) -> bool {
    used > Duration::from_millis(300) && used > waited / 4
}

async fn accept_loop(acceptor: AsyncListener, serve: Serve, log: Arc<Mutex<ServerLog>>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let conn = match acceptor.accept().await {
            Ok((conn, _)) => conn,
            Err(_) => {
                // Out of descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        log.lock().unwrap_or_else(|e| e.into_inner()).connections += 1;
        conns.spawn(serve_conn(conn, serve.clone(), log.clone()));
    }
}

enum WriteCmd {
    Reply(Vec<u8>),
    Close,
    Reset,
}

/// Cut points inside multi-byte UTF-8 characters: before every continuation byte.
fn utf8_cuts(reply: &[u8]) -> Vec<&[u8]> {
    let mut pieces = vec![];
    let mut start = 0;
    for i in 1..reply.len() {
        if reply[i] & 0b1100_0000 == 0b1000_0000 {
            pieces.push(&reply[start..i]);
            start = i;
        }
    }
    pieces.push(&reply[start..]);
    pieces
}

async fn serve_conn(conn: Conn, serve: Serve, log: Arc<Mutex<ServerLog>>) {
    let fd: RawFd = match &conn {
        Conn::Tcp(s) => s.as_raw_fd(),
        Conn::Unix(s) => s.as_raw_fd(),
    };
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<WriteCmd>();
    // Replies are written by their own task, so a large message is read while its reply goes out.
    let writer_serve = serve.clone();
    let writer_log = log.clone();
    let writer = tokio::spawn(async move {
        let note = |n: &str| writer_log.lock().unwrap_or_else(|e| e.into_inner()).notes.push(n.to_string());
        while let Some(cmd) = rx.recv().await {
            let r: io::Result<()> = match cmd {
                WriteCmd::Reply(reply) => {
                    let pieces: Vec<&[u8]> = match &writer_serve {
                        Serve::InPieces { size, .. } => reply.chunks(*size).collect(),
                        Serve::SplittingUtf8 { .. } => utf8_cuts(&reply),
                        _ => vec![&reply[..]],
                    };
                    let pause = match &writer_serve {
                        Serve::InPieces { pause, .. } | Serve::SplittingUtf8 { pause } => Some(*pause),
                        _ => None,
                    };
                    let mut r = Ok(());
                    for piece in pieces {
                        if let Some(p) = pause {
                            tokio::time::sleep(p).await;
                        }
                        r = async {
                            wr.write_all(piece).await?;
                            wr.flush().await
                        }
                        .await;
                        if r.is_err() {
                            break;
                        }
                        writer_log.lock().unwrap_or_else(|e| e.into_inner()).replied += piece.len() as u64;
                    }
                    r
                }
                WriteCmd::Close => {
                    note("closed the connection (FIN) instead of answering");
                    wr.shutdown().await
                }
                WriteCmd::Reset => {
                    // SAFETY: the socket stays open until both halves are dropped, after this.
                    let sock = unsafe { BorrowedFd::borrow_raw(fd) };
                    let _ = socket2::SockRef::from(&sock).set_linger(Some(Duration::ZERO));
                    note("reset the connection (RST) instead of answering");
                    Ok(())
                }
            };
            if r.is_err() {
                break;
            }
        }
        wr
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut answered = 0usize;
    loop {
        let last = match serve {
            Serve::CloseAfter(k) if answered >= k => Some(WriteCmd::Close),
            // One byte only: the rest stays unread, so closing resets (TCP and Unix alike).
            Serve::ResetAfter(k) if answered >= k => Some(WriteCmd::Reset),
            _ => None,
        };
        let want = if matches!(last, Some(WriteCmd::Reset)) { 1 } else { buf.len() };
        let n = match rd.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        log.lock().unwrap_or_else(|e| e.into_inner()).received.extend_from_slice(&buf[..n]);
        if let Some(cmd) = last {
            let _ = tx.send(cmd);
            break;
        }
        if tx.send(WriteCmd::Reply(Transform::Upper.to_vec(&buf[..n]))).is_err() {
            break;
        }
        answered += 1;
    }
    drop(tx);
    if let Ok(wr) = writer.await {
        drop(rd);
        drop(wr);
    }
}

/// Run every scenario with the client over each transport; `each` sees every outcome as it comes.
pub fn run_all(
    scenarios: &[ClientScenario],
    command: impl Fn(Transport) -> ClientCommand,
    transports: &[Transport],
    opts: ClientOpts,
    each: impl FnMut(&Outcome),
) -> io::Result<Vec<Outcome>> {
    run_all_observed(scenarios, command, transports, opts, |_, _| {}, each)
}

/// [`run_all`], with `begin` told of each scenario as it starts (for a progress line).
pub fn run_all_observed(
    scenarios: &[ClientScenario],
    command: impl Fn(Transport) -> ClientCommand,
    transports: &[Transport],
    opts: ClientOpts,
    mut begin: impl FnMut(&ClientScenario, Transport),
    mut each: impl FnMut(&Outcome),
) -> io::Result<Vec<Outcome>> {
    let runner = ClientRunner::new(opts)?;
    let mut outcomes = vec![];
    for &transport in transports {
        let cmd = command(transport);
        for s in scenarios {
            begin(s, transport);
            let o = runner.run(s, &cmd, transport);
            each(&o);
            outcomes.push(o);
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_cuts_split_every_multibyte_character() {
        let s = "aé你".as_bytes();
        let pieces = utf8_cuts(s);
        assert_eq!(pieces.concat(), s);
        assert_eq!(pieces, vec![&b"a\xc3"[..], b"\xa9\xe4", b"\xbd", b"\xa0"]);
        assert!(pieces.iter().all(|p| std::str::from_utf8(p).is_err()));
    }

    #[test]
    fn shell_quote_survives_quotes_and_braces() {
        assert_eq!(shell_quote("/a b/it's{x}"), r"'/a b/it'\''s{{x}}'");
        let cmd = ClientCommand::reference(Path::new("/opt/sock check/bin"), Transport::Unix);
        let values = Placeholders { host: "127.0.0.1".into(), port: 1, path: "/tmp/s.sock".into() };
        assert_eq!(
            spawn::expand(&cmd.template, &values).unwrap(),
            "exec '/opt/sock check/bin' client --unix /tmp/s.sock"
        );
    }

    #[test]
    fn client_catalogue_names_are_unique_and_print_as_code() {
        let all = crate::client_catalogue::all();
        let names: std::collections::BTreeSet<&str> = all.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), all.len());
        for s in &all {
            assert!(!s.description().is_empty(), "{} has no description", s.name());
            let code = s.to_code();
            assert!(code.starts_with(&format!("ClientScenario::new({:?})", s.name())), "{code}");
        }
        let code = crate::client_catalogue::find("server_close_ends_the_client").unwrap().to_code();
        assert!(
            code.contains(".serve(close_after(1))") && code.contains("expect_exit(Exit::Failure).within(ms(2000))"),
            "{code}"
        );
    }

    #[test]
    fn own_process_group_cpu_is_measured() {
        let pgid = nix::unistd::getpgrp().as_raw();
        // Burn a little CPU so at least one tick is counted.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(group_cpu(pgid) > Duration::ZERO);
        assert_eq!(group_cpu(i32::MAX - 1), Duration::ZERO);
    }
}
