//! Test support: the real `sockcheck` binary as a child process, with deadlines everywhere.
//!
//! [`Server`] starts `sockcheck serve`, learns its address from the first stdout line, collects
//! stderr lines, exposes `/proc` figures (fd count, CPU ticks, RSS) and kills the child on drop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sockcheck::net::StdConn;
use sockcheck::Endpoint;

pub const BIN: &str = env!("CARGO_BIN_EXE_sockcheck");

/// Generous: a loaded 2-core CI machine must never fail a test by slowness alone.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The transport of a test in the matrix.
pub use sockcheck::Transport as T;

pub mod servers;

/// The Python interpreter itself, found once. `python3` on `PATH` may be a version manager's shim
/// (pyenv's is a bash script that starts a dozen processes before Python): the tests start
/// hundreds of Python programs, and through such a shim half of their CPU time went to it. Falls
/// back to plain `python3` when the question cannot be answered.
pub fn python3() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| {
                !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '\'') && Path::new(s).is_absolute()
            })
            .unwrap_or_else(|| "python3".into())
    })
}

/// `command` with each `python3` word replaced by [`python3`]'s interpreter and `-S`. The test
/// programs use the standard library only, and `-S` skips `site`, which imports whatever the
/// machine's site-packages hooks (`.pth` files) ask for at every start: where these tests are
/// developed one imports `certifi`, 50 of the 64 ms of CPU a bare `python3 -c pass` costs.
pub fn py(command: impl AsRef<str>) -> String {
    let python = format!("{} -S", python3());
    command.as_ref().split(' ').map(|w| if w == "python3" { python.as_str() } else { w }).collect::<Vec<_>>().join(" ")
}

/// Two tests per body, one per transport: `mod name { fn tcp(); fn unix(); }`; with `datagram:`
/// first, one per datagram transport: `mod name { fn udp(); fn unix_dgram(); }`.
#[macro_export]
macro_rules! per_transport {
    (datagram: $( $(#[$meta:meta])* fn $name:ident($t:ident) $body:block )*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($t: $crate::support::T) $body
            $(#[$meta])* #[test] fn udp() { body($crate::support::T::Udp) }
            $(#[$meta])* #[test] fn unix_dgram() { body($crate::support::T::UnixDgram) }
        }
    )*};
    ($( $(#[$meta:meta])* fn $name:ident($t:ident) $body:block )*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($t: $crate::support::T) $body
            $(#[$meta])* #[test] fn tcp() { body($crate::support::T::Tcp) }
            $(#[$meta])* #[test] fn unix() { body($crate::support::T::Unix) }
        }
    )*};
}

/// `f` over `items`, `jobs` at a time on threads of their own; the results in the items' order.
/// For runs that mostly wait (a broken server's deadlines), as `check --jobs` does.
pub fn par_map<I: Sync, R: Send>(items: &[I], jobs: usize, f: impl Fn(&I) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|r| r.expect("every item ran")).collect()
}

/// Scenarios a test runs at once when it runs a catalogue (each against a target of its own).
pub const JOBS: usize = 3;

/// Poll `cond` until it holds or the deadline passes (then panic naming `what`).
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[derive(Default)]
struct Lines {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

/// A running `sockcheck serve`.
pub struct Server {
    child: Child,
    pub addr: String,
    pub endpoint: Endpoint,
    stderr: Arc<Lines>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// `sockcheck serve` on a fresh port (TCP) or a fresh path in a temp dir (Unix), plus `args`.
    pub fn start(t: T, args: &[&str]) -> Server {
        match t {
            T::Tcp => Server::start_with(&[&["--tcp", "127.0.0.1:0"], args].concat(), None),
            T::Unix => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("s.sock");
                let path = path.to_str().unwrap();
                Server::start_with(&[&["--unix", path], args].concat(), Some(dir))
            }
            other => panic!("a stream server test over {other}"),
        }
    }

    /// `sockcheck serve ARGS`; panics unless it prints its `listening on` line in time.
    pub fn start_with(args: &[&str], dir: Option<tempfile::TempDir>) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(args);
        Server::start_cmd(cmd, dir)
    }

    /// Start `cmd` (which must exec `sockcheck serve`), e.g. under `sh -c 'ulimit ...; exec ...'`.
    pub fn start_cmd(mut cmd: Command, dir: Option<tempfile::TempDir>) -> Server {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn sockcheck serve");
        let stderr = Arc::new(Lines::default());
        collect_lines(child.stderr.take().unwrap(), stderr.clone());
        let (tx, rx) = mpsc::channel();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send(line);
            let _ = io::copy(&mut out, &mut io::sink());
        });
        let line = match rx.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("no `listening on` line within {DEADLINE:?}");
            }
        };
        let Some(addr) = line.trim_end().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let err = stderr.lines.lock().unwrap().0.join("\n");
            panic!("server did not start ({status}): stdout {line:?}, stderr:\n{err}");
        };
        let endpoint = Endpoint::parse(addr).unwrap_or_else(|e| panic!("bad address line {addr:?}: {e}"));
        Server { child, addr: addr.to_string(), endpoint, stderr, _dir: dir }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The `unix:PATH` path, if any.
    pub fn path(&self) -> Option<PathBuf> {
        self.endpoint.unix_path().map(Path::to_path_buf)
    }

    /// `--tcp HOST:PORT` / `--unix PATH` arguments that reach this server.
    pub fn client_args(&self) -> Vec<String> {
        match &self.endpoint {
            Endpoint::Tcp(a) => vec!["--tcp".into(), a.to_string()],
            Endpoint::Unix(p) => vec!["--unix".into(), p.display().to_string()],
            Endpoint::Abstract(n) => vec!["--unix".into(), format!("@{}", String::from_utf8_lossy(n))],
            Endpoint::Udp(a) => vec!["--udp".into(), a.to_string()],
            Endpoint::UnixDgram(p) => vec!["--unix-dgram".into(), p.display().to_string()],
            Endpoint::AbstractDgram(n) => vec!["--unix-dgram".into(), format!("@{}", String::from_utf8_lossy(n))],
        }
    }

    pub fn connect(&self) -> StdConn {
        connect(&self.endpoint)
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lines.lock().unwrap().0.clone()
    }

    /// Wait for a stderr line containing `needle`.
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut g = self.stderr.lines.lock().unwrap();
        loop {
            if let Some(l) = g.0.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero() && !g.1, "no stderr line with {needle:?}; stderr so far:\n{}", g.0.join("\n"));
            g = self.stderr.changed.wait_timeout(g, left).unwrap().0;
        }
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait for the server to exit, at most `timeout`.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut status = None;
        wait_until("the server to exit", timeout, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        // Let the stderr collector reach EOF so every line is visible.
        let deadline = Instant::now() + DEADLINE;
        let mut g = self.stderr.lines.lock().unwrap();
        while !g.1 && Instant::now() < deadline {
            g = self.stderr.changed.wait_timeout(g, Duration::from_millis(100)).unwrap().0;
        }
        status.unwrap()
    }

    pub fn fd_count(&self) -> usize {
        fd_count(self.pid())
    }

    /// CPU time in clock ticks (1/100 s on Linux): user + system, of the children it reaped too.
    pub fn cpu_ticks(&self) -> u64 {
        sockcheck::process::stat(self.pid()).expect("the server runs").cpu_ticks
    }

    /// Resident set size in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_field(self.pid(), "VmRSS:")
    }

    /// Wait until the fd count is back to `baseline`.
    #[track_caller]
    pub fn wait_fds(&self, baseline: usize) {
        wait_until(&format!("server fd count back to {baseline}"), DEADLINE, || self.fd_count() == baseline);
    }

    /// A normal client is still served.
    #[track_caller]
    pub fn assert_serves(&self) {
        let mut c = self.connect();
        assert_eq!(roundtrip(&mut c, b"still here"), b"STILL HERE", "server at {} stopped serving", self.addr);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_lines(r: impl Read + Send + 'static, into: Arc<Lines>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            into.lines.lock().unwrap().0.push(line);
            into.changed.notify_all();
        }
        into.lines.lock().unwrap().1 = true;
        into.changed.notify_all();
    });
}

pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

pub fn proc_status_field(pid: i32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Connect with read and write timeouts, so no test can hang on a silent server.
pub fn connect(endpoint: &Endpoint) -> StdConn {
    let c = StdConn::connect(endpoint, DEADLINE).unwrap_or_else(|e| panic!("connect {endpoint}: {e}"));
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.set_write_timeout(Some(DEADLINE)).unwrap();
    c
}

/// Send `msg` and read exactly as many bytes back. Big messages are written from a second thread
/// while this one reads (a real client must, or both sides' buffers fill up).
#[track_caller]
pub fn roundtrip(c: &mut StdConn, msg: &[u8]) -> Vec<u8> {
    let mut reply = vec![0u8; msg.len()];
    if msg.len() <= 16 * 1024 {
        c.write_all(msg).unwrap();
        c.read_exact(&mut reply).unwrap();
    } else {
        let mut w = c.try_clone().unwrap();
        std::thread::scope(|s| {
            let writer = s.spawn(move || w.write_all(msg));
            c.read_exact(&mut reply).unwrap();
            writer.join().unwrap().unwrap();
        });
    }
    reply
}

/// True when nothing arrives within `window` (the read times out).
pub fn silent_for(c: &mut StdConn, window: Duration) -> bool {
    c.set_read_timeout(Some(window)).unwrap();
    let mut b = [0u8; 1];
    let r = c.read(&mut b);
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    match r {
        Err(e) => matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
        Ok(_) => false,
    }
}

/// The output of a finished `sockcheck` run.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Run `sockcheck ARGS` with `input` on stdin (then EOF); kill it and panic after `DEADLINE`.
#[track_caller]
pub fn run(args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockcheck");
    let stdin = child.stdin.take().unwrap();
    finish(child, Some(stdin), input.to_vec(), args)
}

/// Feed `input` then wait for `child` with a deadline, collecting its output.
#[track_caller]
pub fn finish(child: Child, stdin: Option<ChildStdin>, input: Vec<u8>, what: &[&str]) -> Run {
    finish_within(child, stdin, input, what, DEADLINE)
}

/// [`finish`] with a deadline of its own, for a command that runs longer by design.
#[track_caller]
pub fn finish_within(
    mut child: Child,
    stdin: Option<ChildStdin>,
    input: Vec<u8>,
    what: &[&str],
    within: Duration,
) -> Run {
    if let Some(mut stdin) = stdin {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`sockcheck {}` still running after {within:?}", what.join(" "));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}
