//! Concurrent mode: every client at once. With few clients (up to [`ServerConfig::threads`]) each
//! connection has a blocking thread of its own running the blocking loop; with more, they are
//! tokio tasks, and threads hand theirs to the event loop between two messages.

use std::fmt;
use std::io;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::drive::serve_conn;
use super::{blocking_failure, ServerConfig, MAX_THREADS};
use crate::error::Result;
use crate::net::{self, Listener};
use crate::proto::EchoConn;

/// Serve every client at once until `shutdown` is cancelled: see the module's doc.
pub(super) async fn run(listener: Listener, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    let Listener { socket, endpoint, socket_file } = listener;
    let accept = net::AsyncListener::from_std(socket)?;
    let cfg = Arc::new(cfg);
    let tracker = TaskTracker::new();
    let permits = cfg.max_conns.map(|n| Arc::new(Semaphore::new(n)));
    let threads = Threads::new(cfg.threads.min(MAX_THREADS));
    let mut seq: u64 = 0;
    loop {
        // Take a slot before accepting, so clients over the limit wait in the kernel's backlog.
        let permit = match &permits {
            Some(sem) => tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                p = sem.clone().acquire_owned() => Some(p.expect("semaphore never closed")),
            },
            None => None,
        };
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            r = accept.accept() => r,
        };
        let (conn, peer) = match accepted {
            Ok(c) => c,
            Err(e) => match net::accept_failed(&e, cfg.log_errors.then_some(("sockcheck serve", &endpoint))) {
                net::AcceptFailure::Backoff(pause) => tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => continue,
                },
                net::AcceptFailure::Next => continue,
            },
        };
        seq += 1;
        let served = Served {
            seq,
            peer,
            permit,
            cfg: cfg.clone(),
            stop: shutdown.clone(),
            tracker: tracker.clone(),
            _open: Open::new(&threads),
        };
        let conn = match threads.take_slot(conn) {
            Ok(listed) => {
                match listed.try_map(net::Conn::into_std) {
                    Ok(stream) => {
                        let threads = threads.clone();
                        tracker.spawn_blocking(move || serve_on_thread(stream, &threads, served));
                    }
                    Err(e) => served.log(&e),
                }
                continue;
            }
            Err(conn) => conn,
        };
        tracker.spawn(serve_on_task(conn, EchoConn::new(cfg.bufsize, cfg.transform), served));
    }
    // The file first: once connecting is refused, the path is already free.
    drop(socket_file);
    drop(accept);
    tracker.close();
    // Threads blocked in `recv` stop reading; what they owe gets the grace period, like a task's.
    threads.serving.shutdown_all(std::net::Shutdown::Read);
    tokio::select! {
        _ = tracker.wait() => {}
        _ = tokio::time::sleep(cfg.grace) => {
            threads.serving.shutdown_all(std::net::Shutdown::Both);
            tracker.wait().await;
        }
    }
    Ok(())
}

/// One accepted connection, wherever it is served.
struct Served {
    seq: u64,
    peer: String,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    cfg: Arc<ServerConfig>,
    stop: CancellationToken,
    tracker: TaskTracker,
    _open: Open,
}

/// Counts the connection among the server's open ones while it lives.
struct Open(Arc<Threads>);

impl Open {
    fn new(threads: &Arc<Threads>) -> Open {
        threads.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Open(threads.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Served {
    fn log(&self, why: &dyn fmt::Display) {
        if self.cfg.log_errors {
            eprintln!("sockcheck serve: connection #{} from {}: {why}", self.seq, self.peer);
        }
    }
}

async fn serve_on_task(stream: net::Conn, conn: EchoConn, served: Served) {
    if let Err(e) = serve_conn(stream, conn, &served.cfg, &served.stop).await {
        served.log(&e);
    }
    drop(served.permit);
}

/// The connections concurrent mode serves on threads: how many, and their descriptors, so that
/// stopping can wake a thread blocked in `recv` with `shutdown(2)`; and how many the server holds.
///
/// Threads are for a server with few clients. Once it holds more connections than threads, each
/// thread hands its connection to the event loop after its current reply: the kernel shares the CPU
/// among threads, not connections, and 16 threads beside 2 event-loop workers would take most of it
/// for 16 clients and starve the others (the 1,000-client latencies are in benches/README.md).
struct Threads {
    limit: usize,
    serving: Arc<net::Wakeable>,
    open: std::sync::atomic::AtomicUsize,
}

impl Threads {
    fn new(limit: usize) -> Arc<Threads> {
        Arc::new(Threads { limit, serving: Arc::default(), open: Default::default() })
    }

    /// More connections open than threads to serve them.
    fn crowded(&self) -> bool {
        self.open.load(std::sync::atomic::Ordering::Relaxed) > self.limit
    }

    /// A thread for `conn`, listed from now on (so stopping reaches it wherever its thread is;
    /// dropping the listing frees the thread's place), unless every thread is taken or the server
    /// is crowded: then `conn` back.
    fn take_slot<C: std::os::fd::AsFd>(&self, conn: C) -> Result<net::Listed<C>, C> {
        self.serving.list_if(conn, |n| n < self.limit && !self.crowded())
    }
}

/// Serve a connection with the blocking loop, as the sequential server does (so the thread's only
/// system calls are the `recv` and `send` of each message), to its end or until the server is
/// [crowded](Threads::crowded); then the event loop takes over between two messages.
fn serve_on_thread(listed: net::Listed<net::StdConn>, threads: &Threads, served: Served) {
    let cfg = &served.cfg;
    // Idle timeout: no progress on a recv or a send for that long ends the connection.
    let stream = listed.get();
    let set = stream.set_read_timeout(cfg.idle_timeout).and_then(|()| stream.set_write_timeout(cfg.idle_timeout));
    if let Err(e) = set {
        drop(listed);
        return served.log(&e);
    }
    let mut conn = EchoConn::new(cfg.bufsize, cfg.transform);
    let mut until = UntilCrowded { stream, threads, crowded: false };
    let result = crate::proto::serve(&mut until, &mut conn);
    let crowded = until.crowded;
    // Its thread's place is free again.
    let stream = listed.into_inner();
    match result {
        Err(_) if crowded => {
            conn.release_buffer();
            match stream.into_async() {
                Ok(stream) => {
                    let tracker = served.tracker.clone();
                    tracker.spawn(serve_on_task(stream, conn, served));
                }
                Err(e) => served.log(&e),
            }
        }
        Err(e) => served.log(&blocking_failure(&e, served.stop.is_cancelled())),
        Ok(_) => {}
    }
}

/// A thread's stream, which stops the loop at its next `recv` (the previous reply all written) once
/// the server is crowded.
struct UntilCrowded<'a> {
    stream: &'a net::StdConn,
    threads: &'a Threads,
    crowded: bool,
}

impl io::Read for UntilCrowded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.threads.crowded() {
            self.crowded = true;
            return Err(io::Error::other("handed to the event loop"));
        }
        (&mut &*self.stream).read(buf)
    }
}

impl io::Write for UntilCrowded<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self.stream).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&mut &*self.stream).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_thread_hands_its_connection_over_at_the_next_read_once_the_server_is_crowded() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (stream, mut peer) = (net::StdConn::Unix(a), net::StdConn::Unix(b));
        let threads = Threads::new(1);
        let first = Open::new(&threads);
        let slot = threads.take_slot(stream).expect("a thread for the first connection");
        let mut until = UntilCrowded { stream: slot.get(), threads: &threads, crowded: false };
        peer.write_all(b"abc").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(until.read(&mut buf).unwrap(), 3, "one connection, one thread: reads go through");
        assert!(!until.crowded);
        let second = Open::new(&threads);
        assert!(threads.crowded());
        let peer2 = peer.try_clone().unwrap();
        assert!(threads.take_slot(&peer2).is_err(), "no thread for a connection while crowded");
        peer.write_all(b"def").unwrap();
        assert!(until.read(&mut buf).is_err(), "crowded: the loop stops instead of reading");
        assert!(until.crowded);
        // The bytes are still there for the event loop.
        drop(second);
        assert!(!threads.crowded());
        let mut until = UntilCrowded { stream: slot.get(), threads: &threads, crowded: false };
        assert_eq!(until.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"def");
        drop(first);
        assert_eq!(threads.open.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(threads.take_slot(&peer2).is_err(), "one thread, and it is taken");
        drop(slot);
        assert!(threads.take_slot(&peer2).is_ok(), "the thread is free again");
    }
}
