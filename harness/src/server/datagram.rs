//! The datagram server: the tutorial's UDP loop, `data, addr = recvfrom(bufsize)` then
//! `sendto(data.upper(), addr)`, over UDP or a Unix datagram socket file, with the loop body from
//! the protocol core ([`DatagramEcho`]).
//!
//! One socket serves everyone, so `sequential` is the only model. A datagram longer than the
//! buffer is logged and not answered (a cut reply would be a lie); an empty datagram is answered
//! with an empty one; a reply that cannot be sent (the peer is gone: `ECONNREFUSED`, `ENOENT`)
//! costs one log line and nothing else.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socket2::Socket;
use tokio_util::sync::CancellationToken;

use super::ServerConfig;
use crate::addr::Endpoint;
use crate::error::{Error, Result};
use crate::net::dgram::{recv_from_blocking, send_to_blocking};
use crate::net::DgramBound;
use crate::proto::{Answer, DatagramEcho, Received};
use crate::Mode;

/// The receive buffer unless told: room for any UDP payload.
pub const DEFAULT_DGRAM_BUFSIZE: usize = 65_536;

/// How long a reply may wait for room in the peer's queue (a Unix peer that does not read).
const SEND_PATIENCE: Duration = Duration::from_secs(1);

/// Why a datagram server cannot have this configuration, if it cannot.
pub fn check_config(cfg: &ServerConfig) -> Result<()> {
    if cfg.mode != Mode::Sequential {
        return Err(Error::Usage(
            "--mode concurrent does not apply to datagrams: one socket serves every client, so sequential is the only model"
                .into(),
        ));
    }
    if cfg.bufsize == 0 {
        return Err(Error::Usage("bufsize must be at least 1".into()));
    }
    Ok(())
}

/// Serve datagrams on `bound` until `shutdown` is cancelled. The socket file goes when it drops.
///
/// The loop is the tutorial's, literally: one thread blocked in `recvfrom`, then a `sendto`, and
/// nothing else per datagram (no event loop, no readiness wake-ups). Cancelling sets a flag and
/// wakes that thread with `shutdown(2)`, which ends a blocked `recvfrom` on datagram sockets too.
pub async fn run(bound: DgramBound, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    check_config(&cfg)?;
    let DgramBound { socket, endpoint, socket_file } = bound;
    socket.set_nonblocking(false)?;
    // A Unix peer that does not read: its reply is dropped after this long, not waited for.
    socket.set_write_timeout(Some(SEND_PATIENCE))?;
    let socket = Arc::new(socket);
    let stopping = Arc::new(AtomicBool::new(false));
    let (serving, flag) = (socket.clone(), stopping.clone());
    let mut worker = tokio::task::spawn_blocking(move || serve(&serving, &endpoint, &cfg, &flag));
    let joined = |r: std::result::Result<(), tokio::task::JoinError>| r.map_err(|e| Error::Io(io::Error::other(e)));
    tokio::select! {
        r = &mut worker => return joined(r),
        _ = shutdown.cancelled() => {}
    }
    stopping.store(true, Ordering::SeqCst);
    drop(socket_file);
    // ENOTCONN on an unconnected socket, but the blocked recvfrom is woken all the same.
    let _ = socket.shutdown(std::net::Shutdown::Both);
    joined(worker.await)
}

/// The loop of [`run`], on a thread of its own, until `stopping`.
fn serve(socket: &Socket, endpoint: &Endpoint, cfg: &ServerConfig, stopping: &AtomicBool) {
    let mut echo = DatagramEcho::new(cfg.transform);
    let mut buf = vec![0u8; cfg.bufsize];
    let log = |line: String| {
        if cfg.log_errors {
            eprintln!("sockcheck serve: {line}");
        }
    };
    while !stopping.load(Ordering::SeqCst) {
        let received = recv_from_blocking(socket, &mut buf);
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let (len, truncated, peer) = match received {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // ICMP errors of earlier sends surface here on some systems: they end nothing.
            Err(e) => {
                log(format!("recvfrom on {endpoint}: {e}"));
                continue;
            }
        };
        match echo.on_datagram(&mut buf, Received { len, truncated }, peer) {
            Answer::Truncated { kept, from } => log(format!(
                "datagram from {from} is longer than the {kept}-byte buffer (MSG_TRUNC): not answered (raise --bufsize)"
            )),
            Answer::Reply { bytes, to } => match send_to_blocking(socket, bytes, &to) {
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    log(format!("reply of {} bytes to {to}: no room within 1 s, dropped", bytes.len()))
                }
                Err(e) => log(format!("reply of {} bytes to {to}: {e}", bytes.len())),
            },
        }
    }
}
