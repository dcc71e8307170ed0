//! The descriptors of connections served by blocking loops, so that a stop can wake them.

use std::os::fd::RawFd;

/// The descriptors of the connections being served by blocking loops (the sequential server's one,
/// the concurrent server's threads), so that stopping can wake a `recv` or `send` blocked in them
/// with `shutdown(2)`. A descriptor is taken off the list before it is closed or handed on.
#[derive(Default)]
pub(super) struct Blocking(std::sync::Mutex<std::collections::HashSet<RawFd>>);

impl Blocking {
    /// List `fd` if `room` says yes to the number listed now.
    pub(super) fn list_if(&self, fd: RawFd, room: impl FnOnce(usize) -> bool) -> bool {
        let mut fds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        room(fds.len()) && fds.insert(fd)
    }

    pub(super) fn unlist(&self, fd: RawFd) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&fd);
    }

    pub(super) fn shutdown_all(&self, how: std::net::Shutdown) {
        for &fd in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            // SAFETY: a listed descriptor is open: it is unlisted (under this lock) before it is closed.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let _ = socket2::SockRef::from(&fd).shutdown(how);
        }
    }
}
