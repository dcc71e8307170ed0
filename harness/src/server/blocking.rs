//! The connections served by blocking loops, so that a stop can wake them.

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The connections being served by blocking loops (the sequential server's one, the concurrent
/// server's threads), so that stopping can wake a `recv` or `send` blocked in them with
/// `shutdown(2)`. Each is held by a duplicate of its descriptor (a shutdown acts on the socket,
/// whichever descriptor it goes through), so nothing here can name a descriptor that was closed
/// and reused; it is unlisted before the connection is closed or handed on.
#[derive(Default)]
pub(super) struct Blocking {
    fds: Mutex<HashMap<u64, OwnedFd>>,
    next: AtomicU64,
}

/// A connection's place in [`Blocking`], for [`Blocking::unlist`].
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Listed(u64);

impl Blocking {
    /// List the connection on `fd` if `room` says yes to the number listed now (and its
    /// descriptor can be duplicated).
    pub(super) fn list_if(&self, fd: BorrowedFd<'_>, room: impl FnOnce(usize) -> bool) -> Option<Listed> {
        let mut fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        if !room(fds.len()) {
            return None;
        }
        let dup = fd.try_clone_to_owned().ok()?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        fds.insert(id, dup);
        Some(Listed(id))
    }

    pub(super) fn unlist(&self, listed: Listed) {
        self.fds.lock().unwrap_or_else(|e| e.into_inner()).remove(&listed.0);
    }

    pub(super) fn shutdown_all(&self, how: std::net::Shutdown) {
        for fd in self.fds.lock().unwrap_or_else(|e| e.into_inner()).values() {
            let _ = socket2::SockRef::from(fd).shutdown(how);
        }
    }
}
