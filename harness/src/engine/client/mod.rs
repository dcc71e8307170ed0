//! Client scenarios: sockcheck plays the server, types into the client's stdin and reads what it
//! prints (`sockcheck check-client`).
//!
//! The client is a command template (placeholders as in [`crate::target::placeholders`]) run by
//! [`crate::process`], by default on a pseudo-terminal as a person runs it ([`ClientStdio`]); its
//! stdout is kept whole and compared from its first byte, less its prompt: what it prints without
//! a newline while it waits for its first line (e.g. the tutorial's `>>: `), unless `--prompt`
//! names one. The server sockcheck plays writes through the same [`Writer`](crate::faults::Writer)
//! as every other played connection.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Engine, Play, StepResult, Transcript};
use crate::addr::{Endpoint, Transport};
use crate::facts::{Bytes, Fact, Stream, TargetEnd};
use crate::net::{self, AsyncListener, ListenOpts};
use crate::process::{self, Keep, Output, Spawned, Stdin};
use crate::proto::{strip_line, Transform};
use crate::report::Failure;
use crate::target::placeholders::{self, Placeholders};

pub use crate::scenario::client::*;

mod datagram;
mod exit;
mod printed;
mod served;

#[cfg(test)]
use printed::common_prefix_hint;
use printed::unfinished;
use served::{accept_loop, ServerLog};

/// The client under test: a command template and how reports name it.
#[derive(Clone, Debug)]
pub struct ClientCommand {
    /// The shell command, with `{host}`, `{port}`, `{addr}` or `{path}` to fill in.
    pub template: String,
    /// How reports name the client.
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
            Transport::Tcp | Transport::Tcp6 => format!("exec {exe} client --tcp {{addr}}"),
            Transport::Unix => format!("exec {exe} client --unix {{path}}"),
            Transport::Udp | Transport::Udp6 => format!("exec {exe} client --udp {{addr}}"),
            Transport::UnixDgram => format!("exec {exe} client --unix-dgram {{path}}"),
            // Not offered by `check-client` (see `cli::args`): no {path} names an abstract socket.
            other => format!("echo 'no built-in client command over {other}' >&2; exit 2"),
        };
        ClientCommand { template, label: "built-in client".into() }
    }
}

/// A word for `sh`, braces doubled so the placeholder expansion leaves them alone.
fn shell_quote(s: &str) -> String {
    placeholders::shell_quote(s).replace('{', "{{").replace('}', "}}")
}

/// Settings of a client check.
#[derive(Clone, Debug)]
pub struct ClientOpts {
    /// Default deadline of a step (waiting for output, for the server to get bytes, for an exit).
    pub step_timeout: Duration,
    /// A prompt the client prints before reading each line (e.g. the tutorial's `>>:`), removed
    /// from the start of output lines before they are compared. `None`: detected.
    pub prompt: Option<String>,
    /// What the client's stdin and stdout are.
    pub stdio: ClientStdio,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts { step_timeout: Duration::from_secs(5), prompt: None, stdio: ClientStdio::Pty }
    }
}

/// What a client's stdin and stdout are (stderr is always a pipe of its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientStdio {
    /// A pseudo-terminal, as in a terminal window: C stdio, Python and Perl flush every line.
    #[default]
    Pty,
    /// Pipes: stdout is block-buffered unless the client flushes it.
    Pipe,
}

impl ClientStdio {
    /// The word `--stdio` takes: `pty` or `pipe`.
    pub fn name(self) -> &'static str {
        match self {
            ClientStdio::Pty => "pty",
            ClientStdio::Pipe => "pipe",
        }
    }
}

impl std::fmt::Display for ClientStdio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ClientStdio {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pty" => Ok(ClientStdio::Pty),
            "pipe" => Ok(ClientStdio::Pipe),
            other => Err(format!("unknown stdio `{other}` (expected `pty` or `pipe`)")),
        }
    }
}

/// How long the client's output must stay quiet, with the client asleep, before what it printed
/// without a newline is taken as its prompt.
const PROMPT_QUIET: Duration = Duration::from_millis(150);
/// The same when it is blocked reading its stdin and everything it wrote has been read: all it
/// will print before its first line is in hand (`Spawned::output_drained`).
const PROMPT_QUIET_READING: Duration = Duration::from_millis(20);
/// The longest wait for that (a client that never goes quiet is typed into anyway).
const PROMPT_WAIT: Duration = Duration::from_secs(3);
/// Longer unfinished text is not a prompt.
const PROMPT_MAX: usize = 200;

/// The last `n` non-empty lines of what a program wrote, joined with ` | `.
fn tail(out: &Output, n: usize) -> String {
    let bytes = out.bytes();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    let from = lines.len().saturating_sub(n);
    lines[from..].join(" | ")
}

/// How a crash looks on stderr: Python, Rust, Java, C, and Node (an unhandled error's stack, whose
/// frames are `    at ...` lines; a Java stack trace has them too).
const TRACEBACK_MARKS: [&str; 7] = [
    "Traceback (most recent call last)",
    "panicked at",
    "Exception in thread",
    "Segmentation fault",
    "Unhandled 'error' event",
    "\n    at ",
    "\n\tat ",
];

/// The state of one scenario run.
struct Run<'a> {
    opts: &'a ClientOpts,
    transport: Transport,
    serve: &'a Serve,
    proc: Spawned,
    log: Arc<Mutex<ServerLog>>,
    /// The lines the client should have printed by now.
    expected_out: Vec<Vec<u8>>,
    /// What is removed from the start of printed lines: `--prompt`, or the prompt detected.
    prompt: Option<Vec<u8>>,
    /// The prompt was looked for (before the first typed line).
    prompt_known: bool,
}

/// A client scenario with a client command over a transport, ready to play.
pub struct ClientPlay<'a> {
    scenario: &'a ClientScenario,
    cmd: &'a ClientCommand,
    transport: Transport,
    opts: &'a ClientOpts,
    /// What the client wrote on stderr, as report lines.
    stderr: Vec<String>,
}

impl<'a> ClientPlay<'a> {
    /// `scenario` against the client that `cmd` starts, over `transport`.
    pub fn new(
        scenario: &'a ClientScenario,
        cmd: &'a ClientCommand,
        transport: Transport,
        opts: &'a ClientOpts,
    ) -> Self {
        ClientPlay { scenario, cmd, transport, opts, stderr: vec![] }
    }
}

impl Play for ClientPlay<'_> {
    fn scenario(&self) -> (&str, &str) {
        (self.scenario.name(), self.scenario.description())
    }

    fn transport(&self) -> Transport {
        self.transport
    }

    fn subject(&self) -> String {
        self.cmd.label.clone()
    }

    fn program_output(&self) -> Vec<String> {
        self.stderr.clone()
    }

    fn play(&mut self, engine: &Engine, log: &mut Transcript) -> Result<(), Failure> {
        let (scenario, transport) = (self.scenario, self.transport);
        // Bind first, then fill in the real port: no window where the port could be taken. The
        // temp dir holds the Unix socket, and {path} has a value over TCP too.
        let dir = tempfile::Builder::new().prefix("sockcheck-").tempdir().map_err(|e| setup_failure(e.to_string()))?;
        let path = dir.path().join("echo.sock");
        process::register_dir(dir.path());
        if matches!(transport, Transport::Abstract | Transport::AbstractDgram) {
            return Err(setup_failure(format!("client checks over {transport} are not written yet")));
        }
        let ask = net::loopback_endpoint(transport, &path);
        let server_log = Arc::new(Mutex::new(ServerLog { datagram: transport.is_datagram(), ..Default::default() }));
        let (endpoint, server, _held) = start_server(engine, scenario, &ask, dir.path(), &server_log)?;
        let port = match &endpoint {
            Endpoint::Tcp(a) | Endpoint::Udp(a) => a.port(),
            _ => 0,
        };
        let values = Placeholders { host: Placeholders::loopback(transport).into(), port, path };
        let command = placeholders::expand(&self.cmd.template, &values).map_err(|e| setup_failure(e.to_string()))?;

        let started = Instant::now();
        let keep = Keep { stdout: None, stderr: Some(1 << 20) };
        let stdin = match self.opts.stdio {
            ClientStdio::Pty => Stdin::Pty,
            ClientStdio::Pipe => Stdin::Piped,
        };
        let proc =
            Spawned::start(&command, stdin, keep).map_err(|e| setup_failure(format!("cannot run `{command}`: {e}")))?;
        let listening = match server {
            Some(_) if transport.is_datagram() => format!("bound to {endpoint}"),
            Some(_) => format!("listening on {endpoint}"),
            None => format!("nothing listening on {endpoint}"),
        };
        let pty = self.opts.stdio == ClientStdio::Pty;
        log.record("sockcheck", "start", started, &Ok(Fact::ClientStarted { serving: listening, command, pty }));
        let prompt = self.opts.prompt.as_ref().filter(|p| !p.is_empty()).map(|p| p.as_bytes().to_vec());
        let mut run = Run {
            opts: self.opts,
            transport,
            serve: &scenario.serve,
            proc,
            log: server_log.clone(),
            expected_out: vec![],
            prompt_known: prompt.is_some(),
            prompt,
        };
        let result = run.play_steps(scenario, log);
        // Only a failure's report shows it.
        if result.is_err() {
            self.stderr = run.proc.stderr.excerpt_since(0, 8, 12, 300);
        }
        let _ = run.proc.stop(Duration::from_millis(500));
        if let Some((rt, task, _socket_file)) = server {
            task.abort();
            let _ = rt.block_on(task);
        }
        let log_fact = server_log_fact(scenario, &server_log);
        log.record("server", format!("serve({})", scenario.serve.to_code()), Instant::now(), &Ok(log_fact));
        process::unregister_dir(dir.path());
        drop(dir);
        result
    }
}

/// A failure to set up the check, before the client runs.
fn setup_failure(what: String) -> Failure {
    Failure::new("sockcheck", 0, "start", Fact::Setup { what })
}

/// Start the played server of `scenario` at `ask`: the endpoint it has, the running server (none
/// when nothing listens) and the address held by a refusing one.
fn start_server<'e>(
    engine: &'e Engine,
    scenario: &ClientScenario,
    ask: &Endpoint,
    dir: &Path,
    server_log: &Arc<Mutex<ServerLog>>,
) -> Result<(Endpoint, Option<datagram::Served<'e>>, Option<net::Refusing>), Failure> {
    let transport = ask.transport();
    // Nothing listening: the address is held (so nobody else takes it) but connects are
    // refused. Otherwise a played server answers.
    Ok(match scenario.serve {
        _ if transport.is_datagram() => {
            let (endpoint, served) = datagram::start(engine, ask, dir, &scenario.serve, server_log)
                .map_err(|e| setup_failure(format!("cannot bind: {e}")))?;
            (endpoint, Some(served), None)
        }
        Serve::NothingListening => {
            let refusing = net::bind_refusing(ask).map_err(|e| setup_failure(format!("cannot bind: {e}")))?;
            (refusing.endpoint.clone(), None, Some(refusing))
        }
        _ => {
            let listener = net::bind(ask, &ListenOpts { backlog: 16, unix_mode: 0o600 })
                .map_err(|e| setup_failure(format!("cannot listen: {e}")))?;
            let rt = engine.background().map_err(|e| setup_failure(e.to_string()))?;
            let _guard = rt.enter();
            let accept = AsyncListener::from_std(listener.socket).map_err(|e| setup_failure(e.to_string()))?;
            let task = rt.spawn(accept_loop(accept, scenario.serve.clone(), server_log.clone()));
            (listener.endpoint, Some((rt, task, [listener.socket_file, None])), None)
        }
    })
}

/// The played server's log, as the transcript's last line.
fn server_log_fact(scenario: &ClientScenario, server_log: &Mutex<ServerLog>) -> Fact {
    let served = server_log.lock().unwrap_or_else(|e| e.into_inner());
    Fact::ServerLog {
        served: served.served(),
        nothing_listening: scenario.serve == Serve::NothingListening,
        notes: served.notes.clone(),
    }
}

impl Run<'_> {
    /// Play the steps of `scenario`, each recorded in `log`, up to the first that fails.
    fn play_steps(&mut self, scenario: &ClientScenario, log: &mut Transcript) -> Result<(), Failure> {
        let until = Instant::now() + scenario.deadline;
        for t in &scenario.steps.steps {
            let started = Instant::now();
            let who = who(&t.step);
            if matches!(t.step, ClientStep::Type(_)) && !self.prompt_known {
                let note = self.detect_prompt();
                log.record("stdout", "(prompt)", started, &Ok(note));
            }
            let started = Instant::now();
            let r = if started > until {
                Err(Fact::ScenarioTimeout { deadline: scenario.deadline.into() })
            } else {
                self.step(t)
            };
            log.record(who, t.step.to_code(), started, &r);
            if let Err(fact) = r {
                self.settle_stderr();
                let mut failure = log.fail(who, t.step.to_code(), fact);
                failure.end = self.proc.status().map(|s| TargetEnd::ClientExited { status: s.into() });
                return Err(failure);
            }
        }
        Ok(())
    }
}

fn who(step: &ClientStep) -> &'static str {
    match step {
        ClientStep::Type(_) | ClientStep::EndInput => "stdin",
        ClientStep::ExpectReplies | ClientStep::ExpectPrinted(_) | ClientStep::ExpectReplyOrGiveUp => "stdout",
        ClientStep::ExpectSent(_) => "server",
        ClientStep::ExpectExit(_) | ClientStep::ExpectIdle(_) => "process",
        ClientStep::ExpectNoTraceback | ClientStep::ExpectMessage => "stderr",
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
                self.proc.type_in(line).map_err(|what| Fact::Setup { what })?;
                Ok(Fact::Typed { bytes: n as u64 })
            }
            ClientStep::EndInput => {
                self.proc.end_input();
                Ok(Fact::InputEnded { pty: self.opts.stdio == ClientStdio::Pty })
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
            ClientStep::ExpectSent(msgs) if self.transport.is_datagram() => {
                let msgs: Vec<Vec<u8>> = msgs.iter().map(|m| m.as_bytes().to_vec()).collect();
                self.expect_datagrams_sent(&msgs, timeout)
            }
            ClientStep::ExpectSent(msgs) => self.expect_sent(&msgs.concat().into_bytes(), timeout),
            ClientStep::ExpectReplyOrGiveUp => self.expect_reply_or_give_up(timeout),
            ClientStep::ExpectExit(exit) => self.expect_exit(*exit, timeout),
            ClientStep::ExpectIdle(d) => self.expect_idle(*d),
            ClientStep::ExpectNoTraceback => {
                self.settle_stderr();
                let bytes = self.proc.stderr.bytes();
                let text = String::from_utf8_lossy(&bytes);
                match TRACEBACK_MARKS.iter().find_map(|m| text.find(m)) {
                    Some(i) => {
                        // Its first lines, and its last: the one that names the error.
                        let lines: Vec<&str> = text[i..].lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
                        let shown: Vec<String> = match lines.len() {
                            n if n <= 6 => lines.iter().map(|l| l.to_string()).collect(),
                            n => lines[..3]
                                .iter()
                                .chain(&["..."])
                                .chain(&lines[n - 2..])
                                .map(|l| l.to_string())
                                .collect(),
                        };
                        Err(Fact::Traceback { lines: shown })
                    }
                    None => Ok(Fact::NoTraceback { stderr: bytes.len() as u64 }),
                }
            }
            ClientStep::ExpectMessage => {
                self.settle_stderr();
                let stderr = tail(&self.proc.stderr, 3);
                if !stderr.is_empty() {
                    return Ok(Fact::Said { on: Stream::Stderr, text: stderr });
                }
                let stdout = self.proc.stdout.bytes();
                let mut lines = self.printed_lines(&stdout);
                lines.push(self.strip_prompt(unfinished(&stdout)).to_vec());
                match lines.iter().rev().find(|l| !l.trim_ascii().is_empty()) {
                    Some(l) => Ok(Fact::Said { on: Stream::Stdout, text: Bytes::of(l).to_string() }),
                    None => Err(Fact::SaidNothing),
                }
            }
        }
    }

    /// If the client has exited, wait (briefly) until its stderr pipe is drained and closed.
    fn settle_stderr(&mut self) {
        if self.proc.status().is_some() {
            self.proc.stderr.wait_closed(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests;
