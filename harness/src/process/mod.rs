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

pub use output::{excerpt, last_lines, Output, OutputState};

/// Process groups of running programs and temp dirs of their sockets, for [`kill_all`].
static LIVE: Mutex<(Vec<i32>, Vec<PathBuf>)> = Mutex::new((Vec::new(), Vec::new()));

fn live() -> MutexGuard<'static, (Vec<i32>, Vec<PathBuf>)> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A temp dir that [`kill_all`] removes if sockcheck is interrupted while it exists.
pub fn register_dir(dir: &Path) {
    live().1.push(dir.to_path_buf());
}

/// The dir is gone (or someone else removes it).
pub fn unregister_dir(dir: &Path) {
    live().1.retain(|d| d != dir);
}

/// When sockcheck itself is interrupted (Ctrl-C): kill (SIGKILL) every program still running
/// (they are in process groups of their own, so the terminal's signal does not reach them), reap
/// them, and remove the registered temp dirs. For signal handlers: sockcheck is about to exit.
pub fn kill_all() {
    let (groups, dirs) = std::mem::take(&mut *live());
    for pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pgid), None);
        wait_group_gone(pgid, Duration::from_secs(1));
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
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
    pub stderr: Option<usize>,
}

/// A running program, in a process group of its own.
pub struct Spawned {
    child: Child,
    pgid: i32,
    stdin: Option<mpsc::Sender<Input>>,
    pub stdout: Arc<Output>,
    pub stderr: Arc<Output>,
    stopped: bool,
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
                let slave = pty.slave;
                // A session of its own (so also a process group of its own, whose id is its pid),
                // with the terminal as its controlling terminal, as a login shell has.
                // SAFETY: the closure runs in the child between fork and exec; it makes two
                // system calls and neither allocates nor takes a lock.
                unsafe {
                    cmd.pre_exec(move || {
                        rustix::process::setsid()?;
                        rustix::process::ioctl_tiocsctty(&slave)?;
                        Ok(())
                    });
                }
                master = Some(pty.master);
            }
        }
        let spawned = cmd.spawn();
        // Close our copies of the terminal's slave: the master then reads EIO once the program
        // (and whatever it started) is gone, as a pipe reads its end.
        drop(cmd);
        let mut child = spawned?;
        let pgid = child.id() as i32;
        live().0.push(pgid);
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
        Ok(Spawned { child, pgid, stdin, stdout, stderr, stopped: false })
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
        live().0.retain(|&g| g != self.pgid);
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
        live().0.retain(|&g| g != self.pgid);
    }
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

/// The fields after `(comm)` of `/proc/PID/stat` for every process.
fn proc_stats() -> impl Iterator<Item = String> {
    proc_stats_with_pid().map(|(_, rest)| rest)
}

/// [`proc_stats`] with each process's id.
fn proc_stats_with_pid() -> impl Iterator<Item = (String, String)> {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|entry| {
        let pid = entry.file_name().to_str().filter(|s| s.bytes().all(|b| b.is_ascii_digit()))?.to_string();
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        stat.rfind(')').map(|i| (pid, stat[i + 1..].to_string()))
    })
}

/// Whether any process of this group is still running (zombies do not count). `sh -c` does not
/// always `exec` the command, so the shell being reaped does not mean the program is gone: its
/// listening socket may still be open for a moment.
pub fn group_alive(pgid: i32) -> bool {
    if !Path::new("/proc/self/stat").exists() {
        return killpg(Pid::from_raw(pgid), None).is_ok();
    }
    proc_stats().any(|rest| {
        let f: Vec<&str> = rest.split_whitespace().take(3).collect();
        f.len() == 3 && f[0] != "Z" && f[0] != "X" && f[2].parse() == Ok(pgid)
    })
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

fn group_sleep(pgid: i32, on: On) -> bool {
    let mut any = false;
    let mut found = on == On::Anything;
    for (pid, rest) in proc_stats_with_pid() {
        let f: Vec<&str> = rest.split_whitespace().take(3).collect();
        if f.len() < 3 || f[2].parse() != Ok(pgid) || f[0] == "Z" || f[0] == "X" {
            continue;
        }
        if f[0] != "S" {
            return false;
        }
        any = true;
        found = found || blocked_on_input(&pid, on == On::Stdin);
    }
    any && found
}

/// Whether process `pid` is blocked in `read(0, ..)` or a poll/select/epoll wait, from
/// `/proc/PID/syscall` (x86-64 numbers; elsewhere any sleep counts).
fn blocked_on_input(pid: &str, stdin_only: bool) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return !stdin_only;
    }
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else { return !stdin_only };
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
    let ticks: u64 = proc_stats()
        .filter_map(|rest| {
            // state ppid pgrp ... utime(14) stime cutime cstime, counted after the command name.
            let f: Vec<&str> = rest.split_whitespace().collect();
            (f.len() >= 15 && f[2].parse::<i32>() == Ok(pgid))
                .then(|| f[11..15].iter().filter_map(|v| v.parse::<u64>().ok()).sum::<u64>())
        })
        .sum();
    Duration::from_millis(ticks * 1000 / CLOCK_TICKS)
}

#[cfg(test)]
mod tests;
