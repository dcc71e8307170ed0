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
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// What a program wrote to one of its pipes, drained by a thread of its own so that a chatty
/// program never blocks on a full pipe.
#[derive(Default)]
pub struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
}

/// The bytes kept of one pipe.
#[derive(Default)]
pub struct OutputState {
    /// The bytes kept: all of them, or about the last `keep` ones.
    pub bytes: Vec<u8>,
    /// How many bytes were dropped from the front to keep the size bounded.
    pub dropped: u64,
    /// The writer closed its end.
    pub closed: bool,
}

impl OutputState {
    /// Every byte written so far, kept or not: a mark for [`Output::since`].
    pub fn total(&self) -> u64 {
        self.dropped + self.bytes.len() as u64
    }
}

impl Output {
    fn drain(self: Arc<Self>, mut pipe: impl Read + Send + 'static, keep: Option<usize>) {
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // A pty's master reads EIO, not 0, once the program and its children have exited.
                let n = match pipe.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let mut st = self.lock();
                if n == 0 {
                    st.closed = true;
                    self.changed.notify_all();
                    return;
                }
                st.bytes.extend_from_slice(&buf[..n]);
                if let Some(keep) = keep.filter(|&k| st.bytes.len() > 2 * k) {
                    let cut = st.bytes.len() - keep;
                    st.bytes.drain(..cut);
                    st.dropped += cut as u64;
                }
                self.changed.notify_all();
            }
        });
    }

    pub fn lock(&self) -> MutexGuard<'_, OutputState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for more output (or the pipe closing), at most `limit`.
    pub fn wait<'a>(&self, guard: MutexGuard<'a, OutputState>, limit: Duration) -> MutexGuard<'a, OutputState> {
        self.changed.wait_timeout(guard, limit).unwrap_or_else(|e| e.into_inner()).0
    }

    /// Wait (at most `limit`) until the writer has closed its end: after a program exits, its
    /// last words may still be in the pipe.
    pub fn wait_closed(&self, limit: Duration) {
        let st = self.lock();
        let _ = self.changed.wait_timeout_while(st, limit, |st| !st.closed);
    }

    /// A copy of the bytes kept.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// The mark of "now", for [`Output::since`].
    pub fn mark(&self) -> u64 {
        self.lock().total()
    }

    /// What was written since `mark` (as far as it is still kept).
    pub fn since(&self, mark: u64) -> Vec<u8> {
        let st = self.lock();
        let skip = mark.saturating_sub(st.dropped).min(st.bytes.len() as u64) as usize;
        st.bytes[skip..].to_vec()
    }

    /// The last `n` lines kept, each cut to `width` bytes, oldest first (an unfinished last line
    /// included).
    pub fn last_lines(&self, n: usize, width: usize) -> Vec<String> {
        last_lines(&self.lock().bytes, n, width)
    }
}

/// The last `n` lines of `bytes`, each cut to `width` bytes, without their `\r`.
pub fn last_lines(bytes: &[u8], n: usize, width: usize) -> Vec<String> {
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if text.is_empty() {
        return vec![];
    }
    let mut lines: Vec<String> = text
        .rsplit(|&b| b == b'\n')
        .take(n)
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            String::from_utf8_lossy(&l[..l.len().min(width)]).into_owned()
        })
        .collect();
    lines.reverse();
    lines
}

/// The lines of `bytes` for a report: all of them when there are at most `head + tail`, else the
/// first `head` (where a traceback says what happened) and the last `tail` (where it says where),
/// with a line saying how many were left out; each line cut to `width` bytes.
pub fn excerpt(bytes: &[u8], head: usize, tail: usize, width: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.char_indices().nth(width) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    if lines.len() <= head + tail {
        return lines;
    }
    let mut out = lines[..head].to_vec();
    out.push(format!("… ({} lines left out)", lines.len() - head - tail));
    out.extend_from_slice(&lines[lines.len() - tail..]);
    out
}

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
    group_sleep(pgid, false)
}

/// [`group_asleep`], and one of them is waiting for input: reading its stdin, or in the poll of an
/// event loop. A program that is still starting sleeps on other things now and then (a busy
/// machine shows it); one waiting for its first line does this.
pub fn group_waiting_for_input(pgid: i32) -> bool {
    group_sleep(pgid, true)
}

fn group_sleep(pgid: i32, on_input: bool) -> bool {
    let mut any = false;
    let mut waiting_for_input = !on_input;
    for (pid, rest) in proc_stats_with_pid() {
        let f: Vec<&str> = rest.split_whitespace().take(3).collect();
        if f.len() < 3 || f[2].parse() != Ok(pgid) || f[0] == "Z" || f[0] == "X" {
            continue;
        }
        if f[0] != "S" {
            return false;
        }
        any = true;
        waiting_for_input = waiting_for_input || blocked_on_input(&pid);
    }
    any && waiting_for_input
}

/// Whether process `pid` is blocked in `read(0, ..)` or a poll/select/epoll wait, from
/// `/proc/PID/syscall` (x86-64 numbers; elsewhere any sleep counts).
fn blocked_on_input(pid: &str) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return true;
    }
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else { return true };
    let mut f = text.split_whitespace();
    let (Some(nr), arg0) = (f.next(), f.next()) else { return false };
    match nr {
        // read, readv on fd 0
        "0" | "19" => arg0 == Some("0x0"),
        // poll, select, epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2
        "7" | "23" | "232" | "270" | "271" | "281" | "441" => true,
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
mod tests {
    use super::*;

    #[test]
    fn last_lines_keep_whole_lines_cut_short() {
        let mut bytes = vec![];
        for i in 0..100 {
            bytes.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        bytes.extend_from_slice(b"split across pushes\r\n");
        bytes.extend_from_slice(&[b'x'; 10_000]);
        bytes.extend_from_slice(b"\nunfinished");
        let lines = last_lines(&bytes, 21, 300);
        assert_eq!(lines.len(), 21, "{lines:?}");
        assert_eq!(lines[17], "line 99");
        assert_eq!(lines[18], "split across pushes");
        assert_eq!(lines[19].len(), 300);
        assert_eq!(lines[20], "unfinished");
        assert!(last_lines(b"", 5, 10).is_empty());
    }

    #[test]
    fn exit_statuses_read_well() {
        assert_eq!(describe_status(ExitStatus::from_raw(3 << 8)), "status 3");
        assert_eq!(describe_status(ExitStatus::from_raw(9)), "killed by SIGKILL");
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

    #[test]
    fn output_since_a_mark() {
        let out = Output::default();
        out.lock().bytes.extend_from_slice(b"before\n");
        let mark = out.mark();
        out.lock().bytes.extend_from_slice(b"after\n");
        assert_eq!(out.since(mark), b"after\n");
    }

    const DEADLINE: Duration = Duration::from_secs(10);

    /// Wait (at most [`DEADLINE`]) until `out` holds `n` bytes or is closed; its bytes.
    fn wait_for(out: &Output, n: usize) -> Vec<u8> {
        let until = Instant::now() + DEADLINE;
        let mut st = out.lock();
        while st.bytes.len() < n && !st.closed && Instant::now() < until {
            st = out.wait(st, Duration::from_millis(50));
        }
        st.bytes.clone()
    }

    fn on_pty(command: &str) -> Spawned {
        Spawned::start(command, Stdin::Pty, Keep { stdout: None, stderr: None }).expect("spawn on a pty")
    }

    #[test]
    fn pty_is_stdin_and_stdout_and_the_controlling_terminal_but_not_stderr() {
        let p = on_pty("test -t 0 && echo in; test -t 1 && echo out; test -t 2 || echo err-is-a-pipe; exec 3</dev/tty && echo ctty");
        let out = wait_for(&p.stdout, usize::MAX);
        assert_eq!(out, b"in\nout\nerr-is-a-pipe\nctty\n", "{:?}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn typed_lines_arrive_exactly_without_echo_and_printed_bytes_are_unchanged() {
        let mut p = on_pty("od -An -v -tx1");
        // Control characters that a terminal would act on (Ctrl-C, Ctrl-D, Ctrl-U, DEL, Ctrl-V, CR).
        p.type_in(b"a\x03\x04\x15\x7f\x16\rb\n".to_vec()).unwrap();
        p.end_input();
        let out = String::from_utf8(wait_for(&p.stdout, usize::MAX)).unwrap();
        let hex: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(hex, ["61", "03", "04", "15", "7f", "16", "0d", "62", "0a"], "{out:?}");
        // `od` ended its lines with `\n`, not the terminal's `\r\n`.
        assert!(!out.contains('\r'), "{out:?}");
        assert_eq!(wait_exit(&mut p), Some(true));
    }

    /// The exit status, waited for (at most [`DEADLINE`]).
    fn wait_exit(p: &mut Spawned) -> Option<bool> {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(s) = p.status() {
                return Some(s.success());
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_line_longer_than_the_terminal_buffer_arrives_whole_and_ctrl_d_ends_input() {
        let mut p = on_pty("wc -c; echo done");
        let mut line = vec![b'x'; 100 << 10];
        line.push(b'\n');
        p.type_in(line).unwrap();
        p.type_in(b"end\n".to_vec()).unwrap();
        p.end_input();
        let out = String::from_utf8(wait_for(&p.stdout, usize::MAX)).unwrap();
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["102405", "done"], "{out:?}");
        assert_eq!(wait_exit(&mut p), Some(true));
    }

    #[test]
    fn a_program_on_a_pty_is_stopped_with_its_group() {
        let mut p = on_pty("sleep 30 & sleep 30");
        let pgid = p.pid() as i32;
        let until = Instant::now() + DEADLINE;
        while !group_asleep(pgid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(p.asleep(), "a program waiting for a timer is asleep");
        p.stop(Duration::from_millis(500)).unwrap();
        assert!(!group_alive(pgid));
        // The terminal's master reads EIO once everything on the slave is gone: stdout closes.
        p.stdout.wait_closed(DEADLINE);
        assert!(p.stdout.lock().closed);
    }

    #[test]
    fn tty_keys_escape_control_characters_and_cut_long_lines() {
        let mut k = TtyKeys::default();
        assert_eq!(k.keys(b"a\tb\x04\n"), b"a\tb\x16\x04\n");
        let keys = k.keys(&[b'y'; 2500]);
        assert_eq!(keys.iter().filter(|&&b| b == VEOF).count(), 2);
        assert_eq!(keys[TtyKeys::PIECE], VEOF);
        // An unfinished line is handed over first, then input ends.
        assert_eq!(k.end(), [VEOF, VEOF]);
        assert_eq!(k.end(), [VEOF]);
    }
}
