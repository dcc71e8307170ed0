//! What a program writes to a pipe or its terminal: drained all the time, kept (whole or its
//! last part), waited on, and cut into lines for reports.

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
                if let Some(keep) = keep.filter(|&k| st.bytes.len() > 2 * k) {
                    let cut = st.bytes.len() - keep;
                    st.bytes.drain(..cut);
                    st.dropped += cut as u64;
                }
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
