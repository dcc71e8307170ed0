//! What a program writes to a pipe or its terminal: drained all the time, kept (its head and its
//! tail, or its last part: never more than a bound, whatever a program prints), waited on, and
//! cut into lines for reports.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags};

/// What a program wrote to one of its pipes, drained by a thread of its own so that a chatty
/// program never blocks on a full pipe.
#[derive(Default)]
pub struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
    /// A copy of the descriptor drained, to ask how much is still unread ([`Output::drained`]).
    fd: OnceLock<OwnedFd>,
    /// The draining thread has data in hand (read or about to be) that is not yet in `state`.
    busy: AtomicBool,
}

/// The bytes kept of one pipe.
#[derive(Default)]
pub struct OutputState {
    /// The bytes kept: all of them, or about the last `keep` ones; output compared from its first
    /// byte keeps its first [`HEAD`] bytes and about the last [`TAIL`] ones, `left_out` between.
    pub bytes: Vec<u8>,
    /// How many bytes were dropped from the front to keep the size bounded.
    pub dropped: u64,
    /// How many bytes were left out after the first [`HEAD`] (output kept from its first byte).
    pub left_out: u64,
    /// The writer closed its end.
    pub closed: bool,
}

/// Output compared from its first byte keeps this much of its start (far more than any
/// scenario's expected output)...
pub const HEAD: usize = 8 << 20;
/// ...and about this much of its end: a program that prints megabytes without a newline does not
/// make sockcheck grow with it.
pub const TAIL: usize = 1 << 20;

impl OutputState {
    /// Every byte written so far, kept or not: a mark for [`Output::since`].
    pub fn total(&self) -> u64 {
        self.dropped + self.left_out + self.bytes.len() as u64
    }

    /// Keep what `keep` says of what was added: the last `keep` bytes, or the head and the tail.
    pub(super) fn bound(&mut self, keep: Option<usize>) {
        match keep {
            Some(keep) if self.bytes.len() > 2 * keep => {
                let cut = self.bytes.len() - keep;
                self.bytes.drain(..cut);
                self.dropped += cut as u64;
            }
            None if self.bytes.len() > HEAD + 2 * TAIL => {
                let cut = self.bytes.len() - HEAD - TAIL;
                self.bytes.drain(HEAD..HEAD + cut);
                self.left_out += cut as u64;
            }
            _ => {}
        }
    }

    /// What was written since `mark` (as far as it is still kept).
    fn since(&self, mark: u64) -> &[u8] {
        let mut skip = mark.saturating_sub(self.dropped);
        if self.left_out > 0 && skip > HEAD as u64 {
            // Within or after the part left out: from the tail on.
            skip = (skip.saturating_sub(self.left_out)).max(HEAD as u64);
        }
        &self.bytes[skip.min(self.bytes.len() as u64) as usize..]
    }

    /// What was written since `mark`, as [`excerpt`] lines, led by a line saying how many of those
    /// bytes are not kept (a program that printed more than sockcheck keeps).
    pub fn excerpt_since(&self, mark: u64, head: usize, tail: usize, width: usize) -> Vec<String> {
        let bytes = self.since(mark);
        let left = self.total().saturating_sub(mark).saturating_sub(bytes.len() as u64);
        let mut lines = excerpt(bytes, head, tail, width);
        if left > 0 {
            let note =
                format!("… ({left} bytes of it left out: sockcheck keeps a bounded part of what a program prints)");
            lines.insert(0, note);
        }
        lines
    }
}

impl Output {
    pub(super) fn drain(self: Arc<Self>, mut pipe: impl Read + AsFd + Send + 'static, keep: Option<usize>) {
        if let Ok(fd) = pipe.as_fd().try_clone_to_owned() {
            let _ = self.fd.set(fd);
        }
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // Wait for data without taking it, then say so before taking it: `drained` then
                // never sees an empty pipe while bytes are in this thread's hands only.
                let mut fds = [PollFd::new(&pipe, PollFlags::IN)];
                match poll(&mut fds, None) {
                    Err(rustix::io::Errno::INTR) => continue,
                    _ => self.busy.store(true, Ordering::SeqCst),
                }
                // A pty's master reads EIO, not 0, once the program and its children have exited.
                let n = match pipe.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let mut st = self.lock();
                self.busy.store(false, Ordering::SeqCst);
                if n == 0 {
                    st.closed = true;
                    self.changed.notify_all();
                    return;
                }
                st.bytes.extend_from_slice(&buf[..n]);
                st.bound(keep);
                self.changed.notify_all();
            }
        });
    }

    /// Whether everything written so far is in [`Output::bytes`]: nothing unread in the pipe or
    /// terminal, nothing in the draining thread's hands. `false` when that cannot be told.
    pub fn drained(&self) -> bool {
        let Some(fd) = self.fd.get() else { return false };
        // The pipe first, then the thread: data the thread takes in between is seen as busy.
        rustix::io::ioctl_fionread(fd).is_ok_and(|n| n == 0) && !self.busy.load(Ordering::SeqCst)
    }

    /// The bytes kept so far, locked (a poisoned lock is taken all the same).
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
        self.lock().since(mark).to_vec()
    }

    /// What was written since `mark`, as [`excerpt`] lines, led by a line saying how many of those
    /// bytes are not kept (see [`OutputState::excerpt_since`]).
    pub fn excerpt_since(&self, mark: u64, head: usize, tail: usize, width: usize) -> Vec<String> {
        self.lock().excerpt_since(mark, head, tail, width)
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
