//! Sequential mode: the tutorial's server, one client at a time on one blocking thread.

use std::io;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{blocking_failure, ServerConfig};
use crate::addr::Endpoint;
use crate::error::{Error, Result};
use crate::net::{self, Listener, StdListener};
use crate::proto::EchoConn;

/// What the canceller shares with the sequential server's thread.
#[derive(Default)]
struct Sequential {
    stopping: std::sync::atomic::AtomicBool,
    /// The connection being served, so that cancelling can wake its blocked `recv`.
    serving: Arc<net::Wakeable>,
}

impl Sequential {
    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Sequential mode is the tutorial's server, literally: one thread, a blocking `accept()`, and the
/// blocking driver of the communication loop ([`crate::proto::serve`]), so a message costs a `recv`
/// and a `send` and nothing else (no event loop, no wake-ups). Cancelling wakes that thread with
/// `shutdown(2)`: on the listener (stop accepting; the socket file goes at once) and on the
/// connection being served (stop reading; what is owed is still written, up to the grace period).
pub(super) async fn run(listener: Listener, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    let Listener { socket, endpoint, socket_file } = listener;
    // Shared, not duplicated: no descriptor more than the listener itself.
    let socket = Arc::new(socket);
    let state = Arc::new(Sequential::default());
    let (shared, listening) = (state.clone(), socket.clone());
    let grace = cfg.grace;
    let mut worker = tokio::task::spawn_blocking(move || serve_sequentially(&listening, &endpoint, &cfg, &shared));
    let joined = |r: std::result::Result<io::Result<()>, tokio::task::JoinError>| -> Result<()> {
        r.map_err(|e| Error::Io(io::Error::other(e)))?.map_err(Error::Io)
    };
    tokio::select! {
        r = &mut worker => return joined(r),
        _ = shutdown.cancelled() => {}
    }
    state.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    // The file first: once connecting is refused, the path is already free.
    drop(socket_file);
    let _ = socket.socket().shutdown(std::net::Shutdown::Both);
    state.serving.shutdown_all(std::net::Shutdown::Read);
    match tokio::time::timeout(grace, &mut worker).await {
        Ok(r) => joined(r),
        Err(_) => {
            state.serving.shutdown_all(std::net::Shutdown::Both);
            joined(worker.await)
        }
    }
}

/// The accept loop of the sequential server, on a thread of its own.
fn serve_sequentially(
    listener: &StdListener,
    endpoint: &Endpoint,
    cfg: &ServerConfig,
    st: &Sequential,
) -> io::Result<()> {
    listener.socket().set_nonblocking(false)?;
    let mut seq: u64 = 0;
    while !st.stopping() {
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(_) if st.stopping() => break,
            Err(e) => {
                if let net::AcceptFailure::Backoff(pause) =
                    net::accept_failed(&e, cfg.log_errors.then_some(("sockcheck serve", endpoint)))
                {
                    std::thread::sleep(pause);
                }
                continue;
            }
        };
        seq += 1;
        // Idle timeout: no progress on a recv or a send for that long ends the connection.
        stream.set_read_timeout(cfg.idle_timeout)?;
        stream.set_write_timeout(cfg.idle_timeout)?;
        // An open descriptor of ours is listed nowhere yet: listing it cannot fail.
        let Ok(stream) = st.serving.list_if(stream, |_| true) else { unreachable!("listed twice") };
        // Stopping may have come before the descriptor was listed.
        if st.stopping() {
            let _ = stream.get().socket().shutdown(std::net::Shutdown::Read);
        }
        let mut conn = EchoConn::new(cfg.bufsize, cfg.transform);
        let served = crate::proto::serve(&mut stream.get(), &mut conn);
        let _stream = stream.into_inner();
        if let Err(e) = served {
            if cfg.log_errors {
                eprintln!("sockcheck serve: connection #{seq} from {peer}: {}", blocking_failure(&e, st.stopping()));
            }
        }
    }
    Ok(())
}
