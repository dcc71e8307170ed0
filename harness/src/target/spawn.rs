//! A server given as a command, in any language ([`SpawnTarget`]), and the probe of its serving
//! model and greeting ([`probe`]).

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::time::{Duration, Instant};

use super::placeholders::{expand, free_port_for_spawn, transport_of, Placeholders};
use super::Target;
use crate::addr::Endpoint;
use crate::addr::Transport;
use crate::error::{Error, Result};
use crate::facts::{ProcStatus, TargetEnd};
use crate::net::listeners::listening;
use crate::net::StdConn;
use crate::process::{Keep, Spawned, Stdin};
use crate::proto::Transform;
use crate::report::format_duration;
use crate::server::Mode;

/// Settings of a [`SpawnTarget`].
#[derive(Clone, Debug)]
pub struct SpawnOpts {
    /// The command template, run with `sh -c` once its placeholders are filled in.
    pub command: String,
    /// `None`: from the placeholders (see [`transport_of`]).
    pub transport: Option<Transport>,
    /// How long the program has to accept a connection after it is started.
    pub ready_timeout: Duration,
    /// After SIGTERM, how long before SIGKILL.
    pub grace: Duration,
    /// The serving model, if known; scenarios that need one are skipped otherwise.
    pub model: Option<Mode>,
    /// What the server does to bytes.
    pub transform: Transform,
    /// What the server sends on a connection before it is asked (found by [`probe`]).
    pub greeting: Option<Vec<u8>>,
}

impl SpawnOpts {
    /// Run `command`: transport from its placeholders, 10 s to get ready, 2 s grace, `upper`.
    pub fn new(command: impl Into<String>) -> Self {
        SpawnOpts {
            command: command.into(),
            transport: None,
            ready_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(2),
            model: None,
            transform: Transform::Upper,
            greeting: None,
        }
    }
}

/// A server given as a command, in any language: started with its placeholders filled in (the
/// same address for every start, so a restart reuses it), ready once its address accepts a
/// connection, stopped with SIGTERM to its process group and SIGKILL after a grace period.
pub struct SpawnTarget {
    opts: SpawnOpts,
    command_line: String,
    endpoint: Endpoint,
    running: Option<Spawned>,
    /// The last exited program, for its output in reports.
    last: Option<Spawned>,
    dir: Option<tempfile::TempDir>,
}

impl SpawnTarget {
    /// Check the command and choose its address (a free port, or a path in a new temp dir that
    /// lives as long as the target). Nothing is started yet.
    pub fn new(opts: SpawnOpts) -> Result<Self> {
        let transport = transport_of(&opts.command, opts.transport)?;
        let dir = tempfile::Builder::new().prefix("sockcheck-spawn-").tempdir()?;
        let values = Placeholders {
            host: Placeholders::loopback(transport).into(),
            port: free_port_for_spawn()?,
            path: dir.path().join("server.sock"),
        };
        let command_line = expand(&opts.command, &values)?;
        let endpoint = values.endpoint(transport)?;
        crate::process::register_dir(dir.path());
        Ok(SpawnTarget { opts, command_line, endpoint, running: None, last: None, dir: Some(dir) })
    }

    /// What this target was made from (the serving model as set since).
    pub fn opts(&self) -> &SpawnOpts {
        &self.opts
    }

    /// The command as run, placeholders filled in.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// Set the serving model (e.g. once detected with [`probe`]).
    pub fn set_model(&mut self, model: Option<Mode>) {
        self.opts.model = model;
    }

    /// The process id of the running program (the shell that runs the command), if any.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(Spawned::pid)
    }

    /// The last lines of the running (or last) program's stdout and stderr.
    pub fn output_tail(&self) -> (Vec<String>, Vec<String>) {
        match self.running.as_ref().or(self.last.as_ref()) {
            Some(p) => (p.stdout.last_lines(TAIL_LINES, TAIL_WIDTH), p.stderr.last_lines(TAIL_LINES, TAIL_WIDTH)),
            None => (vec![], vec![]),
        }
    }

    fn launch(&mut self) -> std::result::Result<(), String> {
        let keep = Keep { stdout: Some(1 << 20), stderr: Some(1 << 20) };
        let program = Spawned::start(&self.command_line, Stdin::Null, keep)
            .map_err(|e| format!("cannot run `sh -c {}`: {e}", self.command_line))?;
        self.running = Some(program);
        Ok(())
    }

    /// Poll until the address accepts a connection; fail if the program exits first or the
    /// deadline passes.
    fn wait_ready(&mut self) -> std::result::Result<(), String> {
        let deadline = Instant::now() + self.opts.ready_timeout;
        let mut pause = Duration::from_micros(500);
        loop {
            if let Some(status) = self.exited() {
                let tail = self.last.as_ref().map(stderr_tail).unwrap_or_default();
                return Err(format!(
                    "`{}` {status} before accepting connections on {}{tail}",
                    self.command_line, self.endpoint
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let tail = self.running.as_ref().map(stderr_tail).unwrap_or_default();
                let elsewhere: Vec<String> = self
                    .running
                    .as_ref()
                    .map(|p| p.listens_at().iter().filter(|e| **e != self.endpoint).map(|e| e.to_string()).collect())
                    .unwrap_or_default();
                let _ = self.stop();
                if !elsewhere.is_empty() {
                    return Err(format!(
                        "`{}` listens on {}, not on {} (the address it was given)",
                        self.command_line,
                        elsewhere.join(", "),
                        self.endpoint
                    ));
                }
                return Err(format!(
                    "`{}` did not accept connections on {} within {} (--ready-timeout){tail}",
                    self.command_line,
                    self.endpoint,
                    format_duration(self.opts.ready_timeout)
                ));
            }
            // Ready once its socket listens: read from the socket table, so that no connection is
            // spent on asking (a server that serves one client would serve the probe).
            match listening(&self.endpoint) {
                Some(true) => return Ok(()),
                Some(false) => {}
                None => {
                    if let Ok(conn) = StdConn::connect(&self.endpoint, left.min(Duration::from_millis(500))) {
                        if !connected_to_itself(&conn) {
                            return Ok(());
                        }
                    }
                }
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// If the program has exited: forget it (it is kept as the last) and say how.
    fn exited(&mut self) -> Option<ProcStatus> {
        let status = self.running.as_mut()?.status()?;
        let mut program = self.running.take()?;
        // Whatever it left in its group goes too.
        program.reap_group();
        program.stderr.wait_closed(Duration::from_millis(300));
        self.last = Some(program);
        Some(status.into())
    }

    /// A process of the last program that had left its group and held an address.
    fn escaped_pid(&self) -> Option<u32> {
        self.last.as_ref()?.escaped().iter().find(|e| e.listening.is_some()).map(|e| e.pid)
    }

    /// Remove the socket file the program left at its path (only a socket, never anything else).
    fn remove_socket_file(&self) {
        if let Endpoint::Unix(path) | Endpoint::UnixDgram(path) = &self.endpoint {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A TCP connect to a port nobody listens on can pick that same port as its source.
fn connected_to_itself(conn: &StdConn) -> bool {
    match conn {
        StdConn::Tcp(s) => matches!((s.local_addr(), s.peer_addr()), (Ok(a), Ok(b)) if a == b),
        StdConn::Unix(_) => false,
    }
}

/// How much of a program's output reports show: the last lines, each cut short.
const TAIL_LINES: usize = 20;
const TAIL_WIDTH: usize = 300;

fn stderr_tail(program: &Spawned) -> String {
    let lines = program.stderr.last_lines(5, TAIL_WIDTH);
    if lines.is_empty() {
        return "; it wrote nothing to stderr".into();
    }
    format!("; the end of its stderr: {}", lines.join(" | "))
}

impl Target for SpawnTarget {
    fn describe(&self) -> String {
        format!("`{}`", self.opts.command)
    }
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }
    fn model(&self) -> Option<Mode> {
        self.opts.model
    }
    fn transform(&self) -> Transform {
        self.opts.transform
    }
    fn controllable(&self) -> bool {
        true
    }
    fn start(&mut self) -> std::result::Result<(), String> {
        if self.running.is_some() && self.exited().is_none() {
            return Ok(());
        }
        self.launch()?;
        self.wait_ready()
    }
    fn stop(&mut self) -> std::result::Result<(), String> {
        let Some(mut program) = self.running.take() else {
            self.remove_socket_file();
            return Ok(());
        };
        program.stop(self.opts.grace).map_err(|e| format!("`{}`: {e}", self.command_line))?;
        self.last = Some(program);
        // A process whose main thread is a zombie may still have a thread closing its sockets: the
        // address is free once the socket table no longer shows it listening.
        let deadline = Instant::now() + Duration::from_secs(2);
        while listening(&self.endpoint) == Some(true) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.remove_socket_file();
        Ok(())
    }

    fn output_mark(&self) -> (u64, u64) {
        self.running.as_ref().map_or((0, 0), |p| (p.stdout.mark(), p.stderr.mark()))
    }

    fn output_since(&self, (out, err): (u64, u64)) -> Vec<String> {
        let Some(p) = self.running.as_ref().or(self.last.as_ref()) else { return vec![] };
        let mut lines = p.stderr.excerpt_since(err, 8, 12, TAIL_WIDTH);
        let stdout = p.stdout.excerpt_since(out, 4, 6, TAIL_WIDTH);
        if !stdout.is_empty() {
            lines.push("(stdout:)".into());
            lines.extend(stdout);
        }
        lines
    }
    fn greeting(&self) -> Option<Vec<u8>> {
        self.opts.greeting.clone()
    }

    fn health(&mut self, after_failure: bool) -> Option<TargetEnd> {
        self.running.as_ref()?;
        // Its shell exited 0 and a process it started, out of its group, held the address: it
        // went into the background.
        let exited = |status: ProcStatus, escaped: Option<u32>| match escaped {
            Some(pid) if status.success() => Some(TargetEnd::Daemonized { pid }),
            _ => Some(TargetEnd::Exited { status }),
        };
        // After a scenario whose steps all passed, the program is not asked how it is: whether it
        // is seen to have exited a moment later would depend on how busy the machine is, and a
        // verdict must not. (A server that stops after one client is named by the start-up probe,
        // and fails every scenario that needs a second connection.) After a failure, it gets a
        // moment, so that the report names how it ended.
        if !after_failure {
            let status = self.exited()?;
            let escaped = self.escaped_pid();
            return (!status.success() || escaped.is_some()).then(|| exited(status, escaped)).flatten();
        }
        let patience = Duration::from_millis(300);
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.exited() {
                return exited(status, self.escaped_pid());
            }
            let gone = match listening(&self.endpoint) {
                Some(listening) => !listening,
                // No socket table: ask the address itself, once.
                None => matches!(
                    StdConn::connect(&self.endpoint, Duration::from_millis(200)),
                    Err(Error::Connect { reason, .. })
                        if matches!(reason.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound)
                ),
            };
            if gone {
                break;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // It no longer listens: give it a moment to exit, so that the report names its status.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return exited(status, self.escaped_pid());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(TargetEnd::NotAccepting { at: self.endpoint.to_string() })
    }
}

impl Drop for SpawnTarget {
    fn drop(&mut self) {
        let _ = self.stop();
        if let Some(dir) = &self.dir {
            crate::process::unregister_dir(dir.path());
        }
    }
}

/// Read for a time with the given deadline: everything that came.
fn read_for(conn: &mut StdConn, within: Duration, done: &dyn Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let (mut got, mut buf) = (vec![], [0u8; 4096]);
    while !done(&got) && got.len() < 64 * 1024 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || conn.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match conn.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

/// What a server sends on a new connection before it is asked, waiting [`GREETING_WAIT`] for a
/// first byte (and a moment more for the rest).
fn unasked(conn: &mut StdConn) -> Option<Vec<u8>> {
    let mut greeting = read_for(conn, GREETING_WAIT, &|g| !g.is_empty());
    if !greeting.is_empty() {
        greeting.extend(read_for(conn, Duration::from_millis(50), &|_| false));
    }
    (!greeting.is_empty()).then_some(greeting)
}

/// Connect and see whether the server greets a client that sends nothing.
pub fn probe_greeting(endpoint: &Endpoint) -> Option<Vec<u8>> {
    let mut conn = StdConn::connect(endpoint, Duration::from_secs(2)).ok()?;
    unasked(&mut conn)
}

/// What the start-up probe learns about a server: its serving model, and what it sends on a
/// connection before it is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// Sequential or concurrent, when the probe could tell.
    pub model: Option<Mode>,
    /// What came on the first client's connection before it sent anything.
    pub greeting: Option<Vec<u8>>,
}

/// How long the probe's first client waits, sending nothing, for a greeting.
const GREETING_WAIT: Duration = Duration::from_millis(300);

/// Probe a server: a first client connects and sends nothing, and reads what comes unasked (a
/// greeting) for `GREETING_WAIT` (300 ms); while it stays connected a second one sends a byte. Answered
/// within `patience` means concurrent (a sequential server is busy waiting for the first
/// client's message); answered once the first has left means sequential; never, no model.
/// Every byte that comes is read before a connection is closed, so that the probe's closes are
/// clean (unread bytes would make them resets, which crash some servers).
pub fn probe(endpoint: &Endpoint, patience: Duration, transform: Transform) -> Probe {
    let want = transform.to_vec(b"b")[0];
    let Ok(mut first) = StdConn::connect(endpoint, Duration::from_secs(2)) else { return Probe::default() };
    let greeting = unasked(&mut first);
    let answered = |got: &[u8]| got.ends_with(&[want]);
    let mut first = Some(first);
    let model = (|| {
        let mut second = StdConn::connect(endpoint, Duration::from_secs(2)).ok()?;
        let _ = second.set_write_timeout(Some(Duration::from_secs(2)));
        second.write_all(b"b").ok()?;
        let model = if answered(&read_for(&mut second, patience, &answered)) {
            Some(Mode::Concurrent)
        } else {
            if let Some(mut conn) = first.take() {
                read_for(&mut conn, Duration::from_millis(20), &|_| false);
            }
            answered(&read_for(&mut second, Duration::from_secs(2), &answered)).then_some(Mode::Sequential)
        };
        read_for(&mut second, Duration::from_millis(20), &|_| false);
        model
    })();
    if let Some(mut conn) = first {
        read_for(&mut conn, Duration::from_millis(20), &|_| false);
    }
    Probe { model, greeting }
}
