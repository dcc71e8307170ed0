//! Running other people's programs: command templates with placeholders.
//!
//! A command is run through `sh -c` after its placeholders are filled in:
//! `{host}` and `{port}` (a free loopback port), `{addr}` (`host:port`), `{path}` (a fresh Unix
//! socket path in a temp dir). `{{` and `}}` stand for literal braces. Which placeholders a
//! command uses tells the transport: `{port}`/`{addr}`/`{host}` mean TCP, `{path}` a Unix socket.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::addr::{Endpoint, Transport};
use crate::error::{Error, Result};
use crate::net::StdConn;
use crate::proto::Transform;
use crate::runner::format_duration;
use crate::server::Mode;
use crate::target::Target;

/// The values placeholders are replaced with.
#[derive(Clone, Debug)]
pub struct Placeholders {
    pub host: String,
    pub port: u16,
    pub path: PathBuf,
}

const KNOWN: &str = "{host}, {port}, {addr}, {path}";

/// The placeholders used in `template`, checked: unknown ones and unbalanced braces are errors.
fn placeholders_in(template: &str) -> Result<Vec<&str>> {
    let bad = |why: String| Error::Usage(format!("command `{template}`: {why}"));
    let mut found = vec![];
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(bad("a lone `}` (write `}}` for a literal brace)".into()));
        }
        let Some(end) = tail.find('}') else {
            return Err(bad("a `{` without its `}` (write `{{` for a literal brace)".into()));
        };
        let name = &tail[1..end];
        match name {
            "host" | "port" | "addr" | "path" => found.push(name),
            _ => return Err(bad(format!("unknown placeholder `{{{name}}}` (known: {KNOWN})"))),
        }
        rest = &tail[end + 1..];
    }
    Ok(found)
}

/// The transport a command template asks for; `explicit` (from `--transport`) wins.
pub fn transport_of(template: &str, explicit: Option<Transport>) -> Result<Transport> {
    if template.trim().is_empty() {
        return Err(Error::Usage("the command is empty".into()));
    }
    let used = placeholders_in(template)?;
    let tcp = used.iter().any(|p| matches!(*p, "host" | "port" | "addr"));
    let unix = used.contains(&"path");
    match (explicit, tcp, unix) {
        (Some(t), _, _) => Ok(t),
        (None, true, false) => Ok(Transport::Tcp),
        (None, false, true) => Ok(Transport::Unix),
        (None, true, true) => Err(Error::Usage(format!(
            "command `{template}` uses both TCP and Unix placeholders; say which with --transport tcp|unix"
        ))),
        (None, false, false) => Err(Error::Usage(format!(
            "command `{template}` does not say where to listen: put {{port}}, {{addr}} or {{path}} in it"
        ))),
    }
}

/// Fill in the placeholders.
pub fn expand(template: &str, values: &Placeholders) -> Result<String> {
    placeholders_in(template)?;
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else {
            let end = tail.find('}').expect("checked by placeholders_in");
            match &tail[1..end] {
                "host" => out.push_str(&values.host),
                "port" => out.push_str(&values.port.to_string()),
                "addr" => out.push_str(&format!("{}:{}", values.host, values.port)),
                "path" => out.push_str(&values.path.to_string_lossy()),
                _ => unreachable!("checked by placeholders_in"),
            }
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A loopback port that was free a moment ago (bind port 0, read it, close).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A free loopback port *outside* the kernel's ephemeral range, for programs sockcheck starts and
/// restarts. A port from the ephemeral range (what [`free_port`] gives) can be handed to one of
/// sockcheck's own outgoing connections while the program is down, and a connect to a port nobody
/// listens on can even connect to itself (TCP self-connect): both seen with readiness probes.
pub fn free_port_for_spawn() -> std::io::Result<u16> {
    let (lo, _) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>());
            Some((it.next()?.ok()?, it.next()?.ok()?))
        })
        .unwrap_or((32768, 60999));
    let (from, to) = if lo > 11_000 { (10_000u32, u32::from(lo)) } else { (u32::from(lo) / 2, u32::from(lo)) };
    if to <= from + 100 {
        return free_port();
    }
    // A start that differs between processes and calls, then a walk with a stride coprime to 2.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()),
        )
        .wrapping_add(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed).wrapping_mul(7919));
    let span = to - from;
    for i in 0..200u32 {
        let port = (from + (seed.wrapping_add(i.wrapping_mul(4099)) % span)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    free_port()
}

impl Placeholders {
    /// The endpoint a program started with these values listens on, for this transport.
    pub fn endpoint(&self, transport: Transport) -> Result<Endpoint> {
        match transport {
            Transport::Tcp => Endpoint::parse_tcp(&format!("{}:{}", self.host, self.port)),
            Transport::Unix => Ok(Endpoint::Unix(self.path.clone())),
        }
    }
}

/// How the tails of a spawned program's output are kept: the last lines, each cut short.
const TAIL_LINES: usize = 20;
const TAIL_LINE_BYTES: usize = 300;

/// The last lines a program wrote to one of its pipes, drained by a thread of its own so that a
/// chatty program never blocks on a full pipe.
#[derive(Default)]
pub struct Tail {
    state: Mutex<TailState>,
    closed: Condvar,
}

#[derive(Default)]
struct TailState {
    lines: VecDeque<String>,
    partial: Vec<u8>,
    eof: bool,
}

impl Tail {
    fn drain(self: Arc<Self>, mut pipe: impl Read + Send + 'static) {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.push(&buf[..n]),
                }
            }
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if !st.partial.is_empty() {
                let line = String::from_utf8_lossy(&st.partial).into_owned();
                st.partial.clear();
                Self::keep(&mut st.lines, line);
            }
            st.eof = true;
            self.closed.notify_all();
        });
    }

    fn push(&self, mut bytes: &[u8]) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            let room = TAIL_LINE_BYTES.saturating_sub(st.partial.len());
            st.partial.extend_from_slice(&bytes[..i.min(room)]);
            let line = String::from_utf8_lossy(&st.partial).into_owned();
            st.partial.clear();
            Self::keep(&mut st.lines, line);
            bytes = &bytes[i + 1..];
        }
        let room = TAIL_LINE_BYTES.saturating_sub(st.partial.len());
        st.partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn keep(lines: &mut VecDeque<String>, line: String) {
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line.trim_end_matches('\r').to_string());
    }

    /// Wait (at most `limit`) until the writer has closed its end: after the program exits, its
    /// last words may still be in the pipe.
    fn wait_closed(&self, limit: Duration) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.closed.wait_timeout_while(st, limit, |st| !st.eof);
    }

    /// The last lines kept, oldest first (a line not yet ended included).
    pub fn lines(&self) -> Vec<String> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<String> = st.lines.iter().cloned().collect();
        if !st.partial.is_empty() {
            v.push(String::from_utf8_lossy(&st.partial).into_owned());
        }
        v
    }
}

/// Process groups of spawned programs still running, for the Ctrl-C handler of `sockcheck check`.
static LIVE: Mutex<Vec<(i32, Option<PathBuf>)>> = Mutex::new(Vec::new());

/// Kill (SIGKILL) every spawned program's process group, reap them and remove the temp dirs of
/// their Unix sockets. For signal handlers: sockcheck is about to exit.
pub fn kill_all_spawned() {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for (pgid, dir) in live {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pgid), None);
        wait_group_gone(pgid, Duration::from_secs(1));
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn register(pgid: i32, dir: Option<PathBuf>) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push((pgid, dir));
}

fn unregister(pgid: i32) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).retain(|(p, _)| *p != pgid);
}

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
    pub model: Option<Mode>,
    pub transform: Transform,
}

impl SpawnOpts {
    pub fn new(command: impl Into<String>) -> Self {
        SpawnOpts {
            command: command.into(),
            transport: None,
            ready_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(2),
            model: None,
            transform: Transform::Upper,
        }
    }
}

/// A running program.
struct Running {
    child: Child,
    pgid: i32,
    stdout: Arc<Tail>,
    stderr: Arc<Tail>,
}

/// A server given as a command, in any language: started with its placeholders filled in (the
/// same address for every start, so a restart reuses it), ready once its address accepts a
/// connection, stopped with SIGTERM to its process group and SIGKILL after a grace period.
pub struct SpawnTarget {
    opts: SpawnOpts,
    command_line: String,
    endpoint: Endpoint,
    running: Option<Running>,
    /// The last exited program's output, for reports.
    last_output: Option<(Arc<Tail>, Arc<Tail>)>,
    dir: Option<tempfile::TempDir>,
}

impl SpawnTarget {
    /// Check the command and choose its address (a free port, or a path in a new temp dir that
    /// lives as long as the target). Nothing is started yet.
    pub fn new(opts: SpawnOpts) -> Result<Self> {
        let transport = transport_of(&opts.command, opts.transport)?;
        let dir = tempfile::Builder::new().prefix("sockcheck-spawn-").tempdir()?;
        let values = Placeholders {
            host: "127.0.0.1".into(),
            port: free_port_for_spawn()?,
            path: dir.path().join("server.sock"),
        };
        let command_line = expand(&opts.command, &values)?;
        let endpoint = values.endpoint(transport)?;
        Ok(SpawnTarget { opts, command_line, endpoint, running: None, last_output: None, dir: Some(dir) })
    }

    /// The command as run, placeholders filled in.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// Set the serving model (e.g. once detected with [`detect_model`]).
    pub fn set_model(&mut self, model: Option<Mode>) {
        self.opts.model = model;
    }

    /// The process id of the running program (the shell that runs the command), if any.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// The last lines of the running (or last) program's stdout and stderr.
    pub fn output_tail(&self) -> (Vec<String>, Vec<String>) {
        let tails = self.running.as_ref().map(|r| (r.stdout.clone(), r.stderr.clone())).or(self.last_output.clone());
        tails.map_or((vec![], vec![]), |(o, e)| (o.lines(), e.lines()))
    }

    fn launch(&mut self) -> std::result::Result<(), String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command_line)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run `sh -c {}`: {e}", self.command_line))?;
        let pgid = child.id() as i32;
        register(pgid, self.dir.as_ref().map(|d| d.path().to_path_buf()));
        let (stdout, stderr) = (Arc::new(Tail::default()), Arc::new(Tail::default()));
        if let Some(pipe) = child.stdout.take() {
            stdout.clone().drain(pipe);
        }
        if let Some(pipe) = child.stderr.take() {
            stderr.clone().drain(pipe);
        }
        self.running = Some(Running { child, pgid, stdout, stderr });
        Ok(())
    }

    /// Poll until the address accepts a connection; fail if the program exits first or the
    /// deadline passes.
    fn wait_ready(&mut self) -> std::result::Result<(), String> {
        let deadline = Instant::now() + self.opts.ready_timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(e) = self.exited() {
                return Err(format!("`{}` {e} before accepting connections on {}", self.command_line, self.endpoint));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let tail = self.running.as_ref().map(|r| stderr_tail(&r.stderr)).unwrap_or_default();
                let _ = self.stop();
                return Err(format!(
                    "`{}` did not accept connections on {} within {} (--ready-timeout){tail}",
                    self.command_line,
                    self.endpoint,
                    format_duration(self.opts.ready_timeout)
                ));
            }
            if let Ok(conn) = StdConn::connect(&self.endpoint, left.min(Duration::from_millis(500))) {
                if !connected_to_itself(&conn) {
                    return Ok(());
                }
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// If the program has exited: forget it and say how, with the tail of its stderr.
    fn exited(&mut self) -> Option<String> {
        let r = self.running.as_mut()?;
        let status = match r.child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return None,
            Err(e) => return Some(format!("could not be waited for: {e}")),
        };
        let r = self.running.take()?;
        // Whatever it left in its group goes too.
        let _ = killpg(Pid::from_raw(r.pgid), Signal::SIGKILL);
        wait_group_gone(r.pgid, Duration::from_secs(2));
        unregister(r.pgid);
        r.stderr.wait_closed(Duration::from_millis(300));
        let tail = stderr_tail(&r.stderr);
        self.last_output = Some((r.stdout, r.stderr));
        Some(format!("exited ({}){tail}", describe_status(status)))
    }

    /// Remove the socket file the program left at its path (only a socket, never anything else).
    fn remove_socket_file(&self) {
        if let Endpoint::Unix(path) = &self.endpoint {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Whether any process of this group is still running (zombies do not count). `sh -c` does not
/// always `exec` the command, so the shell being reaped does not mean the server is gone: its
/// listening socket may still be open for a moment.
fn group_alive(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return killpg(Pid::from_raw(pgid), None).is_ok();
    };
    dir.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().take(3).collect();
        fields.len() == 3 && fields[0] != "Z" && fields[0] != "X" && fields[2].parse() == Ok(pgid)
    })
}

/// Wait (at most `limit`) until no process of the group runs.
fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(500);
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A TCP connect to a port nobody listens on can pick that same port as its source.
fn connected_to_itself(conn: &StdConn) -> bool {
    match conn {
        StdConn::Tcp(s) => matches!((s.local_addr(), s.peer_addr()), (Ok(a), Ok(b)) if a == b),
        StdConn::Unix(_) => false,
    }
}

fn stderr_tail(tail: &Tail) -> String {
    let lines = tail.lines();
    if lines.is_empty() {
        return "; it wrote nothing to stderr".into();
    }
    let last: Vec<&str> = lines.iter().rev().take(5).rev().map(String::as_str).collect();
    format!("; the end of its stderr: {}", last.join(" | "))
}

/// `status 1`, `killed by SIGSEGV`.
fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("status {code}");
    }
    match status.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by {}", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        None => status.to_string(),
    }
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
        let Some(mut r) = self.running.take() else {
            self.remove_socket_file();
            return Ok(());
        };
        let group = Pid::from_raw(r.pgid);
        let _ = killpg(group, Signal::SIGTERM);
        // The shell exits with the program, so reap it as soon as it does: the group scan
        // does not count zombies, but nobody else reaps our child.
        let deadline = Instant::now() + self.opts.grace;
        let mut pause = Duration::from_millis(1);
        while Instant::now() < deadline {
            let reaped = matches!(r.child.try_wait(), Ok(Some(_)));
            if reaped && !group_alive(r.pgid) {
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        // SIGKILL whatever is left of the group: the program if it ignored SIGTERM, and any
        // children it started.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = r.child.wait();
        if !wait_group_gone(r.pgid, Duration::from_secs(2)) {
            return Err(format!("process group {} of `{}` survived SIGKILL", r.pgid, self.command_line));
        }
        unregister(r.pgid);
        self.last_output = Some((r.stdout, r.stderr));
        self.remove_socket_file();
        Ok(())
    }
    fn health(&mut self, after_failure: bool) -> std::result::Result<(), String> {
        if self.running.is_none() {
            return Ok(());
        }
        // A scenario that failed because the program is crashing ends as soon as the program
        // closes its connection, which may be a little before the process is gone: wait for it.
        let patience = if after_failure { Duration::from_millis(300) } else { Duration::ZERO };
        let deadline = Instant::now() + patience;
        loop {
            if let Some(e) = self.exited() {
                return Err(format!("the server process {e}"));
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // A program that is dying may not be reaped yet: if its address refuses connections,
        // give it a moment to exit, so that the report names its exit status.
        let refused = match StdConn::connect(&self.endpoint, Duration::from_millis(200)) {
            Err(Error::Connect { reason, .. }) => {
                matches!(reason.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound)
            }
            _ => false,
        };
        if !refused {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Some(e) = self.exited() {
                return Err(format!("the server process {e}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(format!("the server no longer accepts connections on {} (its process is still running)", self.endpoint))
    }
}

impl Drop for SpawnTarget {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Guess the serving model: a first client connects and is answered; while it stays connected a
/// second one sends a byte. Answered within `patience` means concurrent, else sequential.
/// `None` when even the first client is not answered.
pub fn detect_model(endpoint: &Endpoint, patience: Duration) -> Option<Mode> {
    fn exchange(conn: &mut StdConn, byte: u8, within: Duration) -> bool {
        let _ = conn.set_read_timeout(Some(within));
        let _ = conn.set_write_timeout(Some(within));
        let mut got = [0u8; 1];
        conn.write_all(&[byte]).is_ok() && conn.read_exact(&mut got).is_ok()
    }
    let mut a = StdConn::connect(endpoint, Duration::from_secs(2)).ok()?;
    if !exchange(&mut a, b'a', Duration::from_secs(2)) {
        return None;
    }
    let Ok(mut b) = StdConn::connect(endpoint, patience) else {
        return Some(Mode::Sequential);
    };
    if exchange(&mut b, b'b', patience) {
        return Some(Mode::Concurrent);
    }
    // Let the queued client be served before it leaves, so that no reply goes to a closed socket.
    drop(a);
    let mut got = [0u8; 1];
    let _ = b.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = b.read_exact(&mut got);
    Some(Mode::Sequential)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders {
        Placeholders { host: "127.0.0.1".into(), port: 4242, path: "/tmp/x/echo.sock".into() }
    }

    #[test]
    fn expands_every_placeholder_and_literal_braces() {
        let cmd = "srv --port {port} --addr {addr} --host {host} --unix {path} '{{}}'";
        assert_eq!(
            expand(cmd, &values()).unwrap(),
            "srv --port 4242 --addr 127.0.0.1:4242 --host 127.0.0.1 --unix /tmp/x/echo.sock '{}'"
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines_cut_short() {
        let tail = Tail::default();
        for i in 0..100 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        tail.push(b"split ");
        tail.push(b"across pushes\r\n");
        tail.push(&vec![b'x'; 10_000]);
        tail.push(b"\nunfinished");
        let lines = tail.lines();
        assert_eq!(lines.len(), TAIL_LINES + 1, "{lines:?}");
        assert_eq!(lines[TAIL_LINES - 3], "line 99");
        assert_eq!(lines[TAIL_LINES - 2], "split across pushes");
        assert_eq!(lines[TAIL_LINES - 1].len(), TAIL_LINE_BYTES);
        assert_eq!(lines[TAIL_LINES], "unfinished");
    }

    #[test]
    fn exit_statuses_read_well() {
        assert_eq!(describe_status(ExitStatus::from_raw(3 << 8)), "status 3");
        assert_eq!(describe_status(ExitStatus::from_raw(9)), "killed by SIGKILL");
    }

    #[test]
    fn spawn_ports_are_outside_the_ephemeral_range() {
        let port = free_port_for_spawn().unwrap();
        assert!((1024..32768).contains(&port), "{port}");
    }

    #[test]
    fn transport_follows_the_placeholders() {
        assert_eq!(transport_of("python3 s.py {port}", None).unwrap(), Transport::Tcp);
        assert_eq!(transport_of("./srv {path}", None).unwrap(), Transport::Unix);
        assert_eq!(transport_of("./srv {path} {port}", Some(Transport::Unix)).unwrap(), Transport::Unix);
        let err = |cmd: &str| transport_of(cmd, None).unwrap_err().to_string();
        assert!(err("./srv {path} {port}").contains("--transport"));
        assert!(err("./srv").contains("does not say where"));
        assert!(err("  ").contains("empty"));
        assert!(err("./srv {prot}").contains("unknown placeholder `{prot}`"));
        assert!(err("./srv {port").contains("without its"));
        assert!(err("./srv port}").contains("lone"));
    }
}
