//! The connections served by blocking loops, so that a stop can wake them.

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

/// The connections being served by blocking loops (the sequential server's one, the concurrent
/// server's threads), so that stopping can wake a `recv` or `send` blocked in them with
/// `shutdown(2)`. A connection is listed while a [`Listed`] owns it, and only lent out meanwhile:
/// it is unlisted before it is closed or handed on. No descriptor is duplicated.
#[derive(Default)]
pub struct Wakeable(Mutex<HashSet<RawFd>>);

impl Wakeable {
    fn fds(&self) -> MutexGuard<'_, HashSet<RawFd>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// List `conn` if `room` says yes to the number listed now; `conn` back if not.
    pub fn list_if<C: AsFd>(self: &Arc<Self>, conn: C, room: impl FnOnce(usize) -> bool) -> Result<Listed<C>, C> {
        let fd = conn.as_fd().as_raw_fd();
        let mut fds = self.fds();
        if room(fds.len()) && fds.insert(fd) {
            Ok(Listed { conn: Some(conn), fd, registry: self.clone() })
        } else {
            Err(conn)
        }
    }

    /// `shutdown(how)` on every listed connection.
    pub fn shutdown_all(&self, how: std::net::Shutdown) {
        for &fd in self.fds().iter() {
            // SAFETY: a listed descriptor is open: its `Listed` owns the connection and unlists it
            // (under this lock) before the connection can close.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let _ = socket2::SockRef::from(&fd).shutdown(how);
        }
    }
}

/// A connection listed in a [`Wakeable`] for as long as this lives.
pub struct Listed<C: AsFd> {
    /// `None` only once handed on (then no longer listed).
    conn: Option<C>,
    fd: RawFd,
    registry: Arc<Wakeable>,
}

impl<C: AsFd> Listed<C> {
    /// The connection, lent (it must not close while listed).
    pub fn get(&self) -> &C {
        self.conn.as_ref().expect("a listed connection")
    }

    /// The connection, no longer listed.
    pub fn into_inner(mut self) -> C {
        let conn = self.conn.take().expect("a listed connection");
        self.registry.fds().remove(&self.fd);
        conn
    }

    /// The same connection in another form (`f` keeps the descriptor, as `into_std` does), listed
    /// all along; if `f` fails, it is no longer listed.
    pub fn try_map<D: AsFd, E>(mut self, f: impl FnOnce(C) -> Result<D, E>) -> Result<Listed<D>, E> {
        let registry = self.registry.clone();
        let mut fds = registry.fds();
        let conn = self.conn.take().expect("a listed connection");
        fds.remove(&self.fd);
        let mapped = f(conn)?;
        let fd = mapped.as_fd().as_raw_fd();
        fds.insert(fd);
        drop(fds);
        Ok(Listed { conn: Some(mapped), fd, registry })
    }
}

impl<C: AsFd> Drop for Listed<C> {
    fn drop(&mut self) {
        // Before the connection (a field) closes.
        if self.conn.is_some() {
            self.registry.fds().remove(&self.fd);
        }
    }
}
