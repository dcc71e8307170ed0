//! A fault-injecting proxy: between any client and any server, it forwards both directions and
//! makes the network look worse than loopback does (`sockcheck proxy`).
//!
//! - `slice`: bytes go on in pieces of at most N bytes, each written (and flushed, with
//!   `TCP_NODELAY`) on its own, so the peer's reads come back short;
//! - `delay`: a pause before each piece;
//! - `reset_after`: once that many bytes went downstream (server to client), the client's
//!   connection is reset (`SO_LINGER 0`, then close: RST);
//! - `close_after`: the same, but closed cleanly (FIN).
//!
//! Slicing and delays apply to both directions; the byte limits count downstream bytes only.
//!
//! Between datagram endpoints (`udp://`, `unix-dgram:`) it forwards datagrams instead
//! ([`datagram`]): `drop_every`, `duplicate`, `reorder` and `delay`, both directions.

pub mod datagram;

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use crate::addr::Endpoint;
use crate::error::{Error, Result};
use crate::faults::{write_paced, DatagramFaults, Pacing};
use crate::net::{self, AsyncListener, Conn, ListenOpts, Listener};

/// What the proxy does to the bytes it forwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Forward in pieces of at most this many bytes (at least 1).
    pub slice: Option<usize>,
    /// Pause before each piece.
    pub delay: Option<Duration>,
    /// Reset the client's connection after this many bytes went downstream.
    pub reset_after: Option<u64>,
    /// Close the client's connection cleanly after this many bytes went downstream.
    pub close_after: Option<u64>,
    /// Datagrams: drop every Nth (per client, each direction).
    pub drop_every: Option<u64>,
    /// Datagrams: send each twice.
    pub duplicate: bool,
    /// Datagrams: swap each pair.
    pub reorder: bool,
}

impl Faults {
    /// Slice into `n`-byte pieces.
    pub fn slice(n: usize) -> Self {
        Faults { slice: Some(n), ..Faults::default() }
    }
    /// Also wait `d` before forwarding each piece.
    pub fn with_delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

    fn pacing(&self) -> Pacing {
        match self.slice {
            Some(n) => Pacing::slice(n, self.delay),
            None => Pacing { pause: self.delay, ..Pacing::default() },
        }
    }

    /// Datagram faults only.
    pub fn datagrams(faults: DatagramFaults) -> Self {
        let DatagramFaults { drop_every, duplicate, reorder } = faults;
        Faults { drop_every, duplicate, reorder, ..Faults::default() }
    }

    pub(crate) fn datagram_faults(&self) -> DatagramFaults {
        DatagramFaults { drop_every: self.drop_every, duplicate: self.duplicate, reorder: self.reorder }
    }

    /// Whether these faults fit a proxy of streams (`datagram` false) or of datagrams.
    pub fn check(&self, datagram: bool) -> Result<()> {
        if self.slice == Some(0) {
            return Err(Error::Usage("--slice must be at least 1 byte".into()));
        }
        if self.drop_every == Some(0) {
            return Err(Error::Usage("--drop-every must be at least 1".into()));
        }
        if self.reset_after.is_some() && self.close_after.is_some() {
            return Err(Error::Usage("--reset-after and --close-after exclude each other".into()));
        }
        let stream_only = [
            (self.slice.is_some(), "--slice cuts a byte stream"),
            (self.reset_after.is_some(), "--reset-after resets a connection"),
            (self.close_after.is_some(), "--close-after closes a connection"),
        ];
        let datagram_only =
            [(self.drop_every.is_some(), "--drop-every"), (self.duplicate, "--duplicate"), (self.reorder, "--reorder")];
        if datagram {
            if let Some((_, what)) = stream_only.iter().find(|(on, _)| *on) {
                return Err(Error::Usage(format!(
                    "{what}: a stream fault, and these are datagram addresses (datagram faults: --drop-every, \
                     --duplicate, --reorder, --delay)"
                )));
            }
        } else if let Some((_, flag)) = datagram_only.iter().find(|(on, _)| *on) {
            return Err(Error::Usage(format!(
                "{flag} is a datagram fault: give udp://HOST:PORT or unix-dgram:PATH to --listen and --upstream \
                 (stream faults: --slice, --delay, --reset-after, --close-after)"
            )));
        }
        Ok(())
    }

    /// One line for logs: `slice 7, delay 1ms, reset after 100 bytes`.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(n) = self.slice {
            parts.push(format!("slice {n}"));
        }
        if let Some(d) = self.delay {
            parts.push(format!("delay {}ms", d.as_millis()));
        }
        if let Some(n) = self.reset_after {
            parts.push(format!("reset after {n} bytes"));
        }
        if let Some(n) = self.close_after {
            parts.push(format!("close after {n} bytes"));
        }
        if let Some(n) = self.drop_every {
            parts.push(format!("drop one datagram in {n}"));
        }
        if self.duplicate {
            parts.push("duplicate every datagram".into());
        }
        if self.reorder {
            parts.push("swap each pair of datagrams".into());
        }
        if parts.is_empty() {
            "no faults".into()
        } else {
            parts.join(", ")
        }
    }
}

/// How one direction of a connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The reading side closed; the writing side was shut down after it.
    Eof,
    /// The downstream byte limit was reached.
    Limit,
    /// The reading side reset the connection.
    Reset,
    /// Any other error.
    Failed,
}

/// Copy `from` to `to` with the faults applied; stop at `limit` bytes.
async fn pump(
    from: &mut ReadHalf<Conn>,
    to: &mut WriteHalf<Conn>,
    faults: &Faults,
    limit: Option<u64>,
) -> (Ended, u64) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    if limit == Some(0) {
        return (Ended::Limit, 0);
    }
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return (Ended::Eof, sent);
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (Ended::Reset, sent),
            Err(_) => return (Ended::Failed, sent),
        };
        let mut data = &buf[..n];
        let mut hit = false;
        if let Some(limit) = limit {
            let room = (limit - sent) as usize;
            if data.len() >= room {
                data = &data[..room];
                hit = true;
            }
        }
        if write_paced(to, data, &faults.pacing(), |n| sent += n as u64).await.is_err() {
            return (Ended::Failed, sent);
        }
        if hit {
            return (Ended::Limit, sent);
        }
    }
}

/// The upstream pump, which gives its halves back when it ends.
type Upstream = tokio::task::JoinHandle<((Ended, u64), ReadHalf<Conn>, WriteHalf<Conn>)>;

/// The server closed after `down_bytes`: wait for the client's side to end (unless it already
/// did, after `upstream_bytes`), passing a reset of the client's on to the server.
async fn after_server_closed(
    up: &mut Upstream,
    upstream_bytes: Option<u64>,
    server_linger: &net::LingerHandle,
    down_bytes: u64,
    say: impl Fn(String),
) {
    let up_result = match upstream_bytes {
        Some(n) => Some(Ok(n)),
        None => match up.await {
            Ok(((Ended::Reset, n), _, _)) => {
                let _ = server_linger.set_linger_zero();
                Some(Err(n))
            }
            Ok(((_, n), _, _)) => Some(Ok(n)),
            Err(_) => None,
        },
    };
    match up_result {
        Some(Ok(n)) => say(format!("done: {n} bytes upstream, {down_bytes} downstream")),
        Some(Err(n)) => say(format!("the client reset after {n} bytes upstream")),
        None => {}
    }
}

async fn proxy_conn(id: u64, client: Conn, upstream: Endpoint, faults: Faults, log: bool) {
    let say = |what: String| {
        if log {
            eprintln!("sockcheck proxy: connection {id}: {what}");
        }
    };
    let server = match net::connect(&upstream, Duration::from_secs(10)).await {
        Ok(s) => s,
        Err(e) => {
            say(format!("{e}; closing the client"));
            return;
        }
    };
    let (client_linger, server_linger) = (client.linger_handle(), server.linger_handle());
    let (mut crd, mut cwr) = tokio::io::split(client);
    let (mut srd, mut swr) = tokio::io::split(server);
    let up_faults = faults.clone();
    let mut up = tokio::spawn(async move {
        let r = pump(&mut crd, &mut swr, &up_faults, None).await;
        (r, crd, swr)
    });
    let limit = faults.reset_after.or(faults.close_after);
    // The client's side ending first: a half-close waits for the server; a reset or error ends it all.
    let mut client_done = None;
    let (ended, down_bytes) = {
        let down = pump(&mut srd, &mut cwr, &faults, limit);
        tokio::pin!(down);
        tokio::select! {
        r = &mut down => r,
        r = &mut up => match r {
            Ok(((Ended::Eof, n), crd, swr)) => {
                client_done = Some((n, crd, swr));
                (&mut down).await
            }
            Ok(((_, n), _crd, _swr)) => {
                let _ = server_linger.set_linger_zero();
                say(format!("the client reset or failed after {n} bytes upstream; resetting the server"));
                return;
            }
            Err(_) => return,
        },
        }
    };
    match ended {
        Ended::Limit if faults.reset_after.is_some() => {
            let _ = client_linger.set_linger_zero();
            say(format!("reset the client after {down_bytes} bytes downstream"));
        }
        Ended::Limit => {
            let _ = cwr.shutdown().await;
            say(format!("closed the client after {down_bytes} bytes downstream"));
        }
        Ended::Reset => {
            // Pass the server's reset on.
            let _ = client_linger.set_linger_zero();
            say(format!("the server reset the connection after {down_bytes} bytes; resetting the client"));
        }
        Ended::Failed => say(format!("forwarding to the client failed after {down_bytes} bytes")),
        Ended::Eof => {
            // The server closed: let the client finish sending (half-close), then end.
            let upstream_bytes = client_done.as_ref().map(|(n, _, _)| *n);
            after_server_closed(&mut up, upstream_bytes, &server_linger, down_bytes, say).await;
            return;
        }
    }
    if client_done.is_none() {
        up.abort();
        let _ = up.await;
    }
}

/// Accept and forward until `stop` is cancelled. With `log`, one stderr line per connection event.
pub async fn run(
    listener: Listener,
    upstream: Endpoint,
    faults: Faults,
    log: bool,
    stop: CancellationToken,
) -> Result<()> {
    faults.check(false)?;
    let Listener { socket, socket_file, endpoint } = listener;
    let acceptor = AsyncListener::from_std(socket)?;
    let mut conns = tokio::task::JoinSet::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = acceptor.accept() => match accepted {
                Ok((conn, _)) => {
                    next_id += 1;
                    conns.spawn(proxy_conn(next_id, conn, upstream.clone(), faults.clone(), log));
                }
                Err(e) => {
                    let who = log.then_some(("sockcheck proxy", &endpoint));
                    if let net::AcceptFailure::Backoff(pause) = net::accept_failed(&e, who) {
                        tokio::time::sleep(pause).await;
                    }
                }
            },
        }
    }
    conns.shutdown().await;
    drop(socket_file);
    Ok(())
}

/// A proxy running on a thread of its own; dropping the handle stops it.
pub type ProxyHandle = crate::background::Background;

/// Whether `listen` and `upstream` make a stream proxy (false) or a datagram one (true): one
/// kind on both sides, else a usage error.
pub fn datagram_mode(listen: &Endpoint, upstream: &Endpoint) -> Result<bool> {
    let (l, u) = (listen.transport().is_datagram(), upstream.transport().is_datagram());
    if l != u {
        let kind = |d: bool| if d { "datagram" } else { "stream" };
        return Err(Error::Usage(format!(
            "--listen {listen} is a {} address and --upstream {upstream} a {} one: the proxy forwards streams to \
             streams and datagrams to datagrams",
            kind(l),
            kind(u)
        )));
    }
    if net::listeners::would_reach(listen, upstream) {
        return Err(Error::Usage(format!(
            "--upstream {upstream} is where the proxy itself listens (--listen {listen}): it would forward to \
             itself"
        )));
    }
    Ok(l)
}

/// Bind `listen` (errors come back here) and proxy to `upstream` on a new thread: streams, or
/// datagrams between datagram addresses.
pub fn spawn(listen: &Endpoint, upstream: Endpoint, faults: Faults) -> Result<ProxyHandle> {
    let datagram = datagram_mode(listen, &upstream)?;
    faults.check(datagram)?;
    if datagram {
        let bound = net::bind_dgram(listen, &ListenOpts { backlog: 1, unix_mode: 0o600 })?;
        let endpoint = bound.endpoint.clone();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        return ProxyHandle::spawn(format!("sockcheck-proxy {endpoint}"), endpoint, rt, move |stop| {
            datagram::run(bound, upstream, faults, false, stop)
        });
    }
    let listener = net::bind(listen, &ListenOpts { backlog: 128, unix_mode: 0o600 })?;
    let endpoint = listener.endpoint.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    ProxyHandle::spawn(format!("sockcheck-proxy {endpoint}"), endpoint, rt, move |stop| {
        run(listener, upstream, faults, false, stop)
    })
}
