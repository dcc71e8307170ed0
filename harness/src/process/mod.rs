//! Process supervision: programs under test (servers and clients, in any language) started with
//! `sh -c` in a process group of their own, their output drained all the time, their exit status
//! in words, stopped with SIGTERM then SIGKILL, and all of them killed if sockcheck is interrupted.
//!
//! Both directions use it: [`crate::target::SpawnTarget`] for servers, the client check for
//! clients. Nothing else starts a process.
//!
//! A client can be run on a pseudo-terminal ([`Stdin::Pty`]), as a person runs it: its stdio
//! library then flushes every line, and `input()` prompts as it does in a terminal.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

mod output;

pub use output::{excerpt, last_lines, Output, OutputState, HEAD, TAIL};

/// What an interrupt must stop and remove: the process groups of running programs, the temp dirs
/// of their sockets, and whether starting has stopped. One lock: a program is started and
/// listed under it, so once [`kill_all`] has said stop, nothing is started that it would miss.
struct Live {
    stopping: bool,
    groups: Vec<i32>,
    dirs: Vec<PathBuf>,
    /// Every process found outside its program's group, since the last [`take_escaped`].
    escaped: Vec<Escaped>,
    /// The dir every temp dir of this run is made in ([`RunDir`]).
    run_dir: Option<PathBuf>,
    spawned: u64,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    stopping: false,
    groups: Vec::new(),
    dirs: Vec::new(),
    escaped: Vec::new(),
    run_dir: None,
    spawned: 0,
});

fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name of the environment variable that marks every process a program started, whatever
/// group or session it moves to: `PID.N`, sockcheck's pid and the program's number.
pub const MARKER: &str = "SOCKCHECK_SPAWNED";

/// A temp dir that [`kill_all`] removes if sockcheck is interrupted while it exists. Made while
/// an interrupt is being handled, it is removed at once and the caller waits for the exit.
pub fn register_dir(dir: &Path) {
    let mut live = live();
    if live.stopping {
        let _ = std::fs::remove_dir_all(dir);
        drop(live);
        park_for_exit();
    }
    live.dirs.push(dir.to_path_buf());
}

/// For a thread that finds sockcheck being interrupted: the signal handler exits the process as
/// soon as what runs is stopped; start nothing more meanwhile.
fn park_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// The dir is gone (or someone else removes it).
pub fn unregister_dir(dir: &Path) {
    live().dirs.retain(|d| d != dir);
}

/// The dir that holds every temp dir of a run: made and listed for [`kill_all`] in one step, and
/// made the default of `tempfile` (so each socket dir made afterwards is inside it, whoever makes
/// it and however late it is listed) and the `TMPDIR` of every program started. An interrupt
/// removes it whole; dropping it removes it at the end of the run.
pub struct RunDir {
    dir: Option<tempfile::TempDir>,
}

impl RunDir {
    /// Make it in the temp dir (`TMPDIR`). Once per process: later calls return a guard that owns
    /// nothing.
    pub fn create() -> io::Result<RunDir> {
        let mut live = live();
        if live.stopping {
            drop(live);
            park_for_exit();
        }
        if live.run_dir.is_some() {
            return Ok(RunDir { dir: None });
        }
        let dir = tempfile::Builder::new().prefix("sockcheck-run-").tempdir()?;
        if tempfile::env::override_temp_dir(dir.path()).is_err() {
            return Ok(RunDir { dir: None });
        }
        live.dirs.push(dir.path().to_path_buf());
        live.run_dir = Some(dir.path().to_path_buf());
        Ok(RunDir { dir: Some(dir) })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            unregister_dir(dir.path());
            let _ = dir.close();
        }
    }
}

/// A process that left its program's process group (`setsid`, a double fork, a server that
/// daemonises) and was still running when the program was stopped or exited: found by its
/// [`MARKER`], and stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escaped {
    /// Its process id.
    pub pid: u32,
    /// Its command line, arguments joined by spaces.
    pub cmd: String,
    /// Where it listened (or was bound), if anywhere.
    pub listening: Option<String>,
}

impl Escaped {
    /// "a process that left the process group was still listening on ...: pid N, `cmd`; stopped".
    pub fn describe(&self) -> String {
        let doing = match &self.listening {
            Some(at) => format!("was still listening on {at}"),
            None => "was still running".to_string(),
        };
        format!("a process that left the process group {doing}: pid {}, `{}`; stopped", self.pid, self.cmd)
    }
}

/// Every escaped process found since the last call (of every program), for the end of a run.
pub fn take_escaped() -> Vec<Escaped> {
    std::mem::take(&mut live().escaped)
}

/// When sockcheck itself is interrupted (Ctrl-C): stop starting programs, kill (SIGKILL) every
/// one still running and everything they started, wherever it went (they are in process groups
/// of their own, which the terminal's signal does not reach; sockcheck is their subreaper, so
/// what left its group is still below sockcheck), reap them, and remove the registered temp
/// dirs. For signal handlers: sockcheck is about to exit.
pub fn kill_all() {
    let (groups, dirs) = {
        let mut live = live();
        live.stopping = true;
        (std::mem::take(&mut live.groups), std::mem::take(&mut live.dirs))
    };
    for &pgid in &groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        // Kill what is left below us (a fork may have been under way), then reap what died.
        let below = descendants(std::process::id() as i32);
        let alive: Vec<&ProcStat> = below.iter().filter(|p| !p.zombie()).collect();
        for p in &alive {
            let _ = nix::sys::signal::kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
        while let Ok(status) = waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            if status == nix::sys::wait::WaitStatus::StillAlive {
                break;
            }
        }
        if alive.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // A thread may be making a dir inside one of these right now (it finds `stopping` when it
    // lists it, and waits), which makes a removal fail on a dir that is not empty: again, until
    // each is gone.
    for dir in dirs {
        let deadline = Instant::now() + Duration::from_secs(1);
        while std::fs::remove_dir_all(&dir).is_err() && dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Make sockcheck the reaper of every orphan below it: a process that leaves its program (a
/// double fork, a daemonising server) stays sockcheck's descendant, so it can be found and
/// stopped. Once per process.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    });
}

/// What the program's stdin is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null`: servers read nothing.
    Null,
    /// A pipe that sockcheck writes lines to (a thread writes, so a program that does not read
    /// its stdin never blocks sockcheck).
    Piped,
    /// A pseudo-terminal, as when a person runs the program: stdin and stdout are the terminal
    /// (its controlling terminal, in a session of its own), stderr stays a pipe. What is typed
    /// arrives exactly as typed (see [`TtyKeys`]); nothing is echoed; what the program prints is
    /// read unchanged (no `\n` to `\r\n`).
    Pty,
}

/// What the stdin writer is asked to do.
enum Input {
    Bytes(Vec<u8>),
    /// End of input: close the pipe, or type Ctrl-D on a terminal.
    End,
}

/// Ctrl-D: at the start of a line, end of input; within one, hands over what was typed so far.
const VEOF: u8 = 0x04;
/// Ctrl-V: the next byte is taken literally (as typed, not as an editing or signal key).
const VLNEXT: u8 = 0x16;

/// Turns bytes to type into the keys that make a terminal in canonical mode deliver exactly those
/// bytes: every control character but tab and newline is preceded by Ctrl-V, and a line longer
/// than the terminal's line buffer (4095 bytes on Linux; the rest would be dropped) is typed in
/// pieces, each handed over with Ctrl-D, as a person can do.
#[derive(Default)]
pub struct TtyKeys {
    /// Bytes typed since the last newline or Ctrl-D.
    in_line: usize,
}

impl TtyKeys {
    /// Well under the line buffer, whatever the program has not read yet.
    const PIECE: usize = 1024;

    /// The keys that type `bytes` (a long line's pieces handed over as they fill up).
    pub fn keys(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + bytes.len() / Self::PIECE + 1);
        for &b in bytes {
            if b == b'\n' {
                out.push(b);
                self.in_line = 0;
                continue;
            }
            if self.in_line == Self::PIECE {
                out.push(VEOF);
                self.in_line = 0;
            }
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                out.push(VLNEXT);
            }
            out.push(b);
            self.in_line += 1;
        }
        out
    }

    /// End of input: Ctrl-D at the start of a line (a second one if a line is unfinished).
    pub fn end(&mut self) -> Vec<u8> {
        let keys = if self.in_line > 0 { vec![VEOF, VEOF] } else { vec![VEOF] };
        self.in_line = 0;
        keys
    }
}

/// A pseudo-terminal pair, set up so that typed lines arrive exactly and printed bytes are read
/// unchanged: canonical mode (line by line, Ctrl-D ends input), no echo, no output processing,
/// no XON/XOFF. Both ends close on exec, so no other program started meanwhile inherits them.
struct Pty {
    master: File,
    slave: OwnedFd,
}

impl Pty {
    fn open() -> io::Result<Pty> {
        use nix::fcntl::OFlag;
        use nix::sys::termios::{self, InputFlags, LocalFlags, OutputFlags, SetArg, SpecialCharacterIndices as Cc};
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = nix::pty::posix_openpt(flags)?;
        nix::pty::grantpt(&master)?;
        nix::pty::unlockpt(&master)?;
        let name = nix::pty::ptsname_r(&master)?;
        let slave = nix::fcntl::open(name.as_str(), flags, nix::sys::stat::Mode::empty())?;
        let mut t = termios::tcgetattr(&slave)?;
        t.local_flags.remove(
            LocalFlags::ECHO
                | LocalFlags::ECHOE
                | LocalFlags::ECHOK
                | LocalFlags::ECHONL
                | LocalFlags::ECHOCTL
                | LocalFlags::ECHOKE
                | LocalFlags::ECHOPRT,
        );
        t.local_flags.insert(LocalFlags::ICANON | LocalFlags::IEXTEN);
        t.input_flags.remove(InputFlags::IXON | InputFlags::IXOFF);
        t.output_flags.remove(OutputFlags::OPOST);
        t.control_chars[Cc::VEOF as usize] = VEOF;
        t.control_chars[Cc::VLNEXT as usize] = VLNEXT;
        termios::tcsetattr(&slave, SetArg::TCSANOW, &t)?;
        Ok(Pty { master: File::from(OwnedFd::from(master)), slave })
    }
}

/// How much of each output pipe is kept.
#[derive(Clone, Copy, Debug)]
pub struct Keep {
    /// `None`: everything (output that is compared from its first byte).
    pub stdout: Option<usize>,
    /// The same for stderr.
    pub stderr: Option<usize>,
}

/// A running program, in a process group of its own.
pub struct Spawned {
    child: Child,
    pgid: i32,
    stdin: Option<mpsc::Sender<Input>>,
    /// What the program wrote on stdout (on the terminal, when it runs on one).
    pub stdout: Arc<Output>,
    /// What the program wrote on stderr.
    pub stderr: Arc<Output>,
    stopped: bool,
    /// The value of [`MARKER`] in its environment.
    marker: String,
    /// What had left its group when it was stopped or exited.
    escaped: Vec<Escaped>,
}

impl Spawned {
    /// Run `command_line` with `sh -c`.
    pub fn start(command_line: &str, stdin: Stdin, keep: Keep) -> io::Result<Spawned> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command_line).stderr(Stdio::piped());
        let mut master = None;
        match stdin {
            Stdin::Null | Stdin::Piped => {
                let input = if stdin == Stdin::Null { Stdio::null() } else { Stdio::piped() };
                cmd.stdin(input).stdout(Stdio::piped()).process_group(0);
            }
            Stdin::Pty => {
                let pty = Pty::open()?;
                cmd.stdin(Stdio::from(pty.slave.try_clone()?)).stdout(Stdio::from(pty.slave.try_clone()?));
                // A session of its own (so also a process group of its own, whose id is its pid),
                // with the terminal as its controlling terminal, as a login shell has.
                crate::net::in_session_with_terminal(&mut cmd, pty.slave);
                master = Some(pty.master);
            }
        }
        become_subreaper();
        let mut live = live();
        if live.stopping {
            drop(live);
            park_for_exit();
        }
        live.spawned += 1;
        let marker = format!("{}.{}", std::process::id(), live.spawned);
        cmd.env(MARKER, &marker);
        if let Some(dir) = &live.run_dir {
            cmd.env("TMPDIR", dir);
        }
        let spawned = cmd.spawn();
        // Close our copies of the terminal's slave: the master then reads EIO once the program
        // (and whatever it started) is gone, as a pipe reads its end.
        drop(cmd);
        let mut child = spawned?;
        let pgid = child.id() as i32;
        live.groups.push(pgid);
        drop(live);
        let (stdout, stderr) = (Arc::new(Output::default()), Arc::new(Output::default()));
        if let Some(pipe) = child.stdout.take() {
            stdout.clone().drain(pipe, keep.stdout);
        }
        if let Some(pipe) = child.stderr.take() {
            stderr.clone().drain(pipe, keep.stderr);
        }
        let stdin = match (master, child.stdin.take()) {
            (Some(master), _) => {
                stdout.clone().drain(master.try_clone()?, keep.stdout);
                let mut keys = TtyKeys::default();
                Some(write_input(master, move |input| match input {
                    Input::Bytes(b) => keys.keys(&b),
                    Input::End => keys.end(),
                }))
            }
            (None, Some(pipe)) => Some(write_input(pipe, |input| match input {
                Input::Bytes(b) => b,
                Input::End => vec![],
            })),
            (None, None) => None,
        };
        Ok(Spawned { child, pgid, stdin, stdout, stderr, stopped: false, marker, escaped: vec![] })
    }

    /// The process id of the shell that runs the command.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Queue bytes for the program's stdin.
    pub fn type_in(&self, bytes: Vec<u8>) -> Result<(), String> {
        match &self.stdin {
            Some(tx) => {
                tx.send(Input::Bytes(bytes)).map_err(|_| "stdin is closed (the client stopped reading)".to_string())
            }
            None => Err("stdin was closed already".into()),
        }
    }

    /// End of input, after what was queued: the pipe is closed, or Ctrl-D is typed on the
    /// terminal (which stays open: it is also the program's stdout).
    pub fn end_input(&mut self) {
        if let Some(tx) = self.stdin.take() {
            let _ = tx.send(Input::End);
        }
    }

    /// Whether every process of its group is asleep (blocked: reading its input, waiting for a
    /// socket or a timer), rather than running or in disk wait.
    pub fn asleep(&self) -> bool {
        group_asleep(self.pgid)
    }

    /// Whether it is asleep waiting for input (see [`group_waiting_for_input`]).
    pub fn waiting_for_input(&self) -> bool {
        group_waiting_for_input(self.pgid)
    }

    /// Whether it is asleep reading its stdin (see [`group_reading_stdin`]).
    pub fn reading_stdin(&self) -> bool {
        group_reading_stdin(self.pgid)
    }

    /// Whether everything it has written so far is in [`Spawned::stdout`] and
    /// [`Spawned::stderr`] (see [`Output::drained`]).
    pub fn output_drained(&self) -> bool {
        self.stdout.drained() && self.stderr.drained()
    }

    /// Its exit status once it has exited (the shell, which exits with the command).
    pub fn status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// CPU time (user + system, children included) of every process in its group.
    pub fn cpu(&self) -> Duration {
        group_cpu(self.pgid)
    }

    /// Stop it: SIGTERM to the group, `grace` to exit, then SIGKILL to whatever is left of the
    /// group (the program if it ignored SIGTERM, and any children it started). `Err` if the
    /// group survives even that.
    pub fn stop(&mut self, grace: Duration) -> Result<(), String> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        self.stdin = None;
        let group = Pid::from_raw(self.pgid);
        let _ = killpg(group, Signal::SIGTERM);
        // The shell exits with the program, so reap it as soon as it does: the group scan
        // does not count zombies, but nobody else reaps our child.
        let deadline = Instant::now() + grace;
        let mut pause = Duration::from_millis(1);
        while Instant::now() < deadline {
            let reaped = matches!(self.child.try_wait(), Ok(Some(_)));
            if reaped && !group_alive(self.pgid) {
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
        let gone = wait_group_gone(self.pgid, Duration::from_secs(2));
        self.stop_escaped();
        live().groups.retain(|&g| g != self.pgid);
        if gone {
            Ok(())
        } else {
            Err(format!("process group {} survived SIGKILL", self.pgid))
        }
    }

    /// It exited on its own: kill whatever it left in its group and forget it.
    pub fn reap_group(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.stdin = None;
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        wait_group_gone(self.pgid, Duration::from_secs(2));
        self.stop_escaped();
        live().groups.retain(|&g| g != self.pgid);
    }

    /// Where its processes listen (stream sockets) or are bound (datagram sockets), those that
    /// left its group included: for a server that does not come up where it was told, where it
    /// came up instead.
    pub fn listens_at(&self) -> Vec<crate::addr::Endpoint> {
        let mut found = vec![];
        for p in descendants(std::process::id() as i32) {
            if p.zombie() || !(p.pgrp == self.pgid || has_marker(p.pid, &self.marker)) {
                continue;
            }
            for e in crate::net::listeners::where_listens(p.pid as u32) {
                if !found.contains(&e) {
                    found.push(e);
                }
            }
        }
        found
    }

    /// What had left its process group (`setsid`, a double fork, a daemon) and was still running
    /// when it was stopped or exited (and has been stopped since). A server whose shell exited 0
    /// while one of these listens went into the background.
    pub fn escaped(&self) -> &[Escaped] {
        &self.escaped
    }

    /// Find the processes that carry its marker but left its group, note where they listen, kill
    /// them and reap those that are sockcheck's (its subreaper's) children.
    fn stop_escaped(&mut self) {
        let me = std::process::id() as i32;
        let below = descendants(me);
        let marked: Vec<&ProcStat> = below.iter().filter(|p| has_marker(p.pid, &self.marker)).collect();
        let mut found = vec![];
        for p in marked.iter().filter(|p| !p.zombie()) {
            let listening = crate::net::listeners::where_listens(p.pid as u32);
            let listening = (!listening.is_empty())
                .then(|| listening.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "));
            found.push(Escaped { pid: p.pid as u32, cmd: cmdline(p.pid), listening });
            let _ = nix::sys::signal::kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
        // Reap them (and any earlier ones that died on their own) once they are dead; a pid that
        // is not our child is reaped by its own parent.
        let deadline = Instant::now() + Duration::from_secs(2);
        for p in marked.iter().filter(|p| p.ppid == me && p.pid != self.pgid) {
            let pid = Pid::from_raw(p.pid);
            while waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
                .is_ok_and(|s| s == nix::sys::wait::WaitStatus::StillAlive)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for p in marked.iter().filter(|p| p.ppid != me && !p.zombie()) {
            let pid = p.pid;
            while stat(pid).is_some_and(|s| !s.zombie()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        live().escaped.extend(found.iter().cloned());
        self.escaped.extend(found);
    }
}

/// Whether process `pid`'s environment has `MARKER=marker`.
fn has_marker(pid: i32, marker: &str) -> bool {
    let want = format!("{MARKER}={marker}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == want.as_bytes()))
}

/// Process `pid`'s command line, arguments joined by spaces.
fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> =
        raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    args.join(" ")
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.stop(Duration::from_millis(500));
    }
}

/// A thread that writes what `keys` makes of each input to `sink`, so a program that does not
/// read its stdin never blocks sockcheck. It ends at end of input, or when the sink fails (the
/// program is gone).
fn write_input(
    mut sink: impl Write + Send + 'static,
    mut keys: impl FnMut(Input) -> Vec<u8> + Send + 'static,
) -> mpsc::Sender<Input> {
    let (tx, rx) = mpsc::channel::<Input>();
    std::thread::spawn(move || {
        for input in rx {
            let end = matches!(input, Input::End);
            let bytes = keys(input);
            if sink.write_all(&bytes).and_then(|()| sink.flush()).is_err() || end {
                return;
            }
        }
    });
    tx
}

/// `status 1`, `killed by SIGSEGV`.
pub fn describe_status(status: ExitStatus) -> String {
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

/// What sockcheck reads of a process's `/proc/PID/stat`: the one parser of that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// The process id.
    pub pid: i32,
    /// `R` running, `S` asleep, `D` disk wait, `Z` zombie, `X` dead, ...
    pub state: char,
    /// The parent's process id.
    pub ppid: i32,
    /// The process group id.
    pub pgrp: i32,
    /// utime + stime + cutime + cstime, in clock ticks.
    pub cpu_ticks: u64,
}

impl ProcStat {
    /// `pid (comm) state ppid pgrp ...`: `comm` may hold spaces and parentheses, so the fields
    /// are counted from the last `)`.
    pub fn parse(text: &str) -> Option<ProcStat> {
        let (head, rest) = text.rsplit_once(')')?;
        let pid = head.split_whitespace().next()?.parse().ok()?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let state = f.first()?.chars().next()?;
        let cpu_ticks = f.get(11..15).map_or(0, |t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
        Some(ProcStat { pid, state, ppid: f.get(1)?.parse().ok()?, pgrp: f.get(2)?.parse().ok()?, cpu_ticks })
    }

    /// A zombie or dead: it runs no more and holds nothing but its pid.
    pub fn zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Process `pid`'s [`ProcStat`], if it exists.
pub fn stat(pid: i32) -> Option<ProcStat> {
    ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process's [`ProcStat`].
fn all_procs() -> impl Iterator<Item = ProcStat> {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|entry| {
        let pid = entry.file_name().to_str()?.parse().ok()?;
        stat(pid)
    })
}

/// Every process below `pid` (children, their children, ...), zombies included.
pub fn descendants(pid: i32) -> Vec<ProcStat> {
    let procs: Vec<ProcStat> = all_procs().collect();
    let mut below: Vec<ProcStat> = vec![];
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for p in procs.iter().filter(|p| p.ppid == parent && p.pid != pid) {
            if !below.iter().any(|b| b.pid == p.pid) {
                parents.push(p.pid);
                below.push(p.clone());
            }
        }
    }
    below
}

/// Whether any process of this group is still running (zombies do not count). `sh -c` does not
/// always `exec` the command, so the shell being reaped does not mean the program is gone: its
/// listening socket may still be open for a moment.
pub fn group_alive(pgid: i32) -> bool {
    if !Path::new("/proc/self/stat").exists() {
        return killpg(Pid::from_raw(pgid), None).is_ok();
    }
    all_procs().any(|p| p.pgrp == pgid && !p.zombie())
}

/// Whether the group has a process and every one of them is asleep (state `S`: blocked in a
/// read, a poll, a sleep), none running (`R`) or in disk wait (`D`). Zombies do not count.
pub fn group_asleep(pgid: i32) -> bool {
    group_sleep(pgid, On::Anything)
}

/// [`group_asleep`], and one of them is waiting for input: reading its stdin, or in the poll of an
/// event loop. A program that is still starting sleeps on other things now and then (a busy
/// machine shows it); one waiting for its first line does this.
pub fn group_waiting_for_input(pgid: i32) -> bool {
    group_sleep(pgid, On::Input)
}

/// [`group_asleep`], and one of them is blocked reading its stdin (`read(0, ..)`): waiting for a
/// line beyond doubt, where a poll may be waiting for anything (a connection, a timer).
pub fn group_reading_stdin(pgid: i32) -> bool {
    group_sleep(pgid, On::Stdin)
}

/// What one of the sleeping processes must be blocked in, besides all being asleep.
#[derive(Clone, Copy, PartialEq)]
enum On {
    Anything,
    /// `read(0, ..)` or a poll/select/epoll wait.
    Input,
    /// `read(0, ..)` only.
    Stdin,
}

/// Every thread of the group's live processes is asleep, and (unless `on` is anything) one of
/// them is blocked on input. Threads, not processes: a JVM's or tokio's main thread waits in a
/// futex while another reads stdin.
fn group_sleep(pgid: i32, on: On) -> bool {
    let mut any = false;
    let mut found = on == On::Anything;
    for p in all_procs().filter(|p| p.pgrp == pgid && !p.zombie()) {
        for task in threads(p.pid) {
            let Some(t) = ProcStat::parse(&std::fs::read_to_string(format!("{task}/stat")).unwrap_or_default()) else {
                continue;
            };
            if t.zombie() {
                continue;
            }
            if t.state != 'S' {
                return false;
            }
            any = true;
            found = found || blocked_on_input(&task, on == On::Stdin);
        }
    }
    any && found
}

/// The `/proc/PID/task/TID` directory of every thread of `pid` (its own when it has no list).
fn threads(pid: i32) -> Vec<String> {
    let dir = format!("/proc/{pid}/task");
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries.flatten().map(|e| format!("{dir}/{}", e.file_name().to_string_lossy())).collect(),
        Err(_) => vec![format!("/proc/{pid}")],
    }
}

/// Whether the thread at `/proc/.../task/TID` is blocked in `read(0, ..)` or a poll/select/
/// epoll wait, from its `syscall` file (x86-64 numbers; elsewhere any sleep counts).
fn blocked_on_input(task: &str, stdin_only: bool) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return !stdin_only;
    }
    let Ok(text) = std::fs::read_to_string(format!("{task}/syscall")) else { return !stdin_only };
    let mut f = text.split_whitespace();
    let (Some(nr), arg0) = (f.next(), f.next()) else { return false };
    match nr {
        // read, readv on fd 0
        "0" | "19" => arg0 == Some("0x0"),
        // poll, select, epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2
        "7" | "23" | "232" | "270" | "271" | "281" | "441" => !stdin_only,
        _ => false,
    }
}

/// Wait (at most `limit`) until no process of the group runs.
pub fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
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

/// `USER_HZ`: the unit of the `/proc` CPU figures, 100 on every Linux ABI.
const CLOCK_TICKS: u64 = 100;

/// Sum of utime, stime, cutime and cstime of the processes whose process group is `pgid`.
pub fn group_cpu(pgid: i32) -> Duration {
    let ticks: u64 = all_procs().filter(|p| p.pgrp == pgid).map(|p| p.cpu_ticks).sum();
    Duration::from_millis(ticks * 1000 / CLOCK_TICKS)
}

#[cfg(test)]
mod tests;
