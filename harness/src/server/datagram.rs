//! The datagram server: the tutorial's UDP loop, `data, addr = recvfrom(bufsize)` then
//! `sendto(data.upper(), addr)`, over UDP or a Unix datagram socket file, with the loop body from
//! the protocol core ([`DatagramEcho`]).
//!
//! One socket serves everyone, so `sequential` is the only model. A datagram longer than the
//! buffer is logged and not answered (a cut reply would be a lie); an empty datagram is answered
//! with an empty one; a reply that cannot be sent (the peer is gone: `ECONNREFUSED`, `ENOENT`)
//! costs one log line and nothing else.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ServerConfig;
use crate::error::{Error, Result};
use crate::net::{Dgram, DgramBound};
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
pub async fn run(bound: DgramBound, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    check_config(&cfg)?;
    let DgramBound { socket, endpoint, socket_file } = bound;
    let socket = Dgram::from_socket(socket)?;
    let mut echo = DatagramEcho::new(cfg.transform);
    let mut buf = vec![0u8; cfg.bufsize];
    let log = |line: String| {
        if cfg.log_errors {
            eprintln!("sockcheck serve: {line}");
        }
    };
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shutdown.cancelled() => break,
        };
        let (len, truncated, peer) = match received {
            Ok(r) => r,
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
            Answer::Reply { bytes, to } => {
                match tokio::time::timeout(SEND_PATIENCE, socket.send_to(bytes, &to)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => log(format!("reply of {} bytes to {to}: {e}", bytes.len())),
                    Err(_) => log(format!("reply of {} bytes to {to}: no room within 1 s, dropped", bytes.len())),
                }
            }
        }
    }
    drop(socket_file);
    Ok(())
}
