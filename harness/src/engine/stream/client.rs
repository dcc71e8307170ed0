//! One client that sockcheck plays in a server scenario: a connection, a writer task, and the
//! reads each step checks.

use std::fmt::Write as _;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf, ReadHalf};

use crate::addr::Endpoint;
use crate::engine::{RunOpts, StepResult};
use crate::faults::{Pacing, Writer};
use crate::net::{self, Conn};
use crate::proto::Transform;
use crate::report::{excerpt, format_duration, mismatch};
use crate::scenario::{Payload, Step, TimedStep};

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "connection reset by the server".into(),
        io::ErrorKind::BrokenPipe => "broken pipe (the server closed the connection)".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        _ => e.to_string(),
    }
}

/// The failure for unsolicited bytes at the start of a connection.
fn greeting(bytes: &[u8]) -> String {
    format!(
        "the server sent {} bytes before being asked: {} (a greeting or banner; in this protocol the first bytes \
         a client gets are the reply to what it sent)",
        bytes.len(),
        excerpt(bytes)
    )
}

/// A connected client: reader here, writer on a task.
pub(super) struct Client {
    pub(super) name: String,
    reader: Option<ReadHalf<Conn>>,
    writer: Option<Writer>,
    linger: Option<net::LingerHandle>,
    /// Bytes sent whose reply has not been checked yet.
    unchecked: Vec<u8>,
    received: u64,
    buf: Vec<u8>,
}

impl Client {
    pub(super) fn new(name: &str) -> Self {
        Client {
            name: name.to_string(),
            reader: None,
            writer: None,
            linger: None,
            unchecked: vec![],
            received: 0,
            buf: vec![],
        }
    }

    /// Nothing was sent and nothing received on this connection yet.
    fn asked_nothing(&self) -> bool {
        self.received == 0 && self.writer.as_ref().is_some_and(|w| w.queued() == 0)
    }

    fn writer_error(&self) -> Option<String> {
        self.writer.as_ref().and_then(|w| w.progress().error)
    }

    pub(super) async fn step(
        &mut self,
        t: &TimedStep,
        endpoint: &Endpoint,
        transform: Transform,
        opts: &RunOpts,
    ) -> StepResult {
        if !matches!(t.step, Step::Connect | Step::ConnectWithRecvBuffer(_) | Step::Wait(_)) && self.reader.is_none() {
            return Err("not connected (add .connect() first)".into());
        }
        match &t.step {
            Step::Connect => self.connect(endpoint, None, t.within.unwrap_or(opts.connect_timeout)).await,
            Step::ConnectWithRecvBuffer(n) => {
                self.connect(endpoint, Some(*n), t.within.unwrap_or(opts.connect_timeout)).await
            }
            Step::Send(p) => self.send(p),
            Step::Flush => self.flush(t.within.unwrap_or(opts.reply_deadline(self.unchecked.len()))).await,
            Step::ExpectReply { of, slowly } => {
                let expected: Vec<u8> = match of {
                    Some(p) => transform.to_vec(&p.bytes()),
                    None => transform.to_vec(&self.unchecked),
                };
                if expected.is_empty() {
                    return Err("nothing was sent, so no reply can be expected".into());
                }
                let deadline = t.within.unwrap_or(opts.reply_deadline(expected.len()));
                self.expect_reply(&expected, *slowly, deadline, opts.step_timeout).await
            }
            Step::ExpectPartialReply(n) => {
                if (*n).min(self.unchecked.len()) == 0 {
                    return Err("nothing was sent, so no reply can be expected".into());
                }
                let started = Instant::now();
                let take = self.read_pending_prefix(*n, transform, t.within, opts).await?;
                Ok(format!(
                    "first {take} bytes in {}; {} still pending",
                    format_duration(started.elapsed()),
                    self.unchecked.len()
                ))
            }
            Step::ExpectSilence(d) => self.expect_silence(*d).await,
            Step::ExpectEof => self.expect_eof(t.within.unwrap_or(opts.step_timeout)).await,
            Step::HalfClose => {
                // Queued behind the data: the writer shuts its side once everything is sent,
                // while this client goes on reading.
                let w = self.writer.as_ref().expect("connected");
                w.shutdown()?;
                Ok(format!("write side shuts after {} queued bytes", w.queued()))
            }
            Step::Close => {
                self.flush(t.within.unwrap_or(opts.reply_deadline(self.unchecked.len()))).await?;
                self.close_now().await;
                Ok("closed".into())
            }
            Step::Reset => {
                self.linger.as_ref().expect("connected").set_linger_zero().map_err(|e| e.to_string())?;
                self.close_now().await;
                Ok("reset (SO_LINGER 0, close)".into())
            }
            Step::VanishMidReply { after } => {
                let pending = self.unchecked.len();
                let take = self.read_pending_prefix(*after, transform, t.within, opts).await?;
                self.close_now().await;
                Ok(format!("read {take} of {pending} reply bytes, then closed"))
            }
            Step::Wait(d) => {
                tokio::time::sleep(*d).await;
                Ok(String::new())
            }
            other => Err(format!("{} is a datagram step; this is a stream scenario", other.to_code())),
        }
    }

    /// Read and check the first `n` bytes (at most what is pending) of the pending reply; the rest
    /// stays pending. Returns how many were read.
    async fn read_pending_prefix(
        &mut self,
        n: usize,
        transform: Transform,
        within: Option<Duration>,
        opts: &RunOpts,
    ) -> Result<usize, String> {
        let take = n.min(self.unchecked.len());
        if take > 0 {
            let expected = transform.to_vec(&self.unchecked[..take]);
            let deadline = within.unwrap_or(opts.reply_deadline(take));
            self.read_checked(&expected, None, deadline, opts.step_timeout).await?;
        }
        Ok(take)
    }

    async fn connect(&mut self, endpoint: &Endpoint, recv_buffer: Option<usize>, timeout: Duration) -> StepResult {
        if self.reader.is_some() {
            return Err("already connected".into());
        }
        let conn = net::connect_with(endpoint, recv_buffer, timeout).await.map_err(|e| e.to_string())?;
        let linger = conn.linger_handle();
        let (rd, wr) = tokio::io::split(conn);
        self.reader = Some(rd);
        self.writer = Some(Writer::spawn(wr, Pacing::default(), linger, describe_io));
        self.linger = Some(linger);
        self.unchecked.clear();
        self.received = 0;
        self.buf = vec![0; 64 * 1024];
        Ok(format!("connected to {endpoint}"))
    }

    fn send(&mut self, p: &Payload) -> StepResult {
        let bytes: Arc<[u8]> = p.bytes().into();
        self.unchecked.extend_from_slice(&bytes);
        let n = bytes.len();
        self.writer.as_mut().expect("connected").send(bytes)?;
        Ok(format!("{n} bytes queued"))
    }

    async fn flush(&mut self, deadline: Duration) -> StepResult {
        let w = self.writer.as_ref().expect("connected");
        let queued = w.queued();
        match w.written(deadline).await {
            Ok(p) => match &p.error {
                Some(e) => Err(format!("sending failed after {} of {queued} bytes: {e}", p.written)),
                None => Ok(format!("{queued} bytes sent")),
            },
            Err(written) => Err(format!(
                "only {written} of {queued} bytes could be sent within {} (is the server reading?)",
                format_duration(deadline)
            )),
        }
    }

    async fn expect_reply(
        &mut self,
        expected: &[u8],
        slowly: Option<(usize, Duration)>,
        deadline: Duration,
        stall: Duration,
    ) -> StepResult {
        let started = Instant::now();
        self.read_checked(expected, slowly, deadline, stall).await?;
        // Anything more, right away, when nothing else is outstanding, is data nobody asked for.
        if self.unchecked.is_empty() {
            let rd = self.reader.as_mut().expect("connected");
            if let Some(Ok(n)) = read_now(rd, &mut self.buf).await {
                if n > 0 {
                    // The first reply on the connection, then more: was the "reply" a greeting
                    // that the real reply followed? (`hello` sent, `hello\r\n` + `hello` back.)
                    if self.received == expected.len() as u64 {
                        let mut stream = expected.to_vec();
                        stream.extend_from_slice(&self.buf[..n]);
                        let until = tokio::time::Instant::now() + deadline;
                        // Only when the reply follows: a line ending after the reply is a broken reply.
                        if let Some(msg) = self.banner(stream, expected, until, false).await {
                            return Err(msg);
                        }
                    }
                    return Err(format!(
                        "{n} bytes more than the reply of {} bytes: {}",
                        expected.len(),
                        excerpt(&self.buf[..n])
                    ));
                }
            }
        }
        Ok(format!("{} bytes in {}", expected.len(), format_duration(started.elapsed())))
    }

    /// Read exactly `expected.len()` bytes and compare them as they come.
    async fn read_checked(
        &mut self,
        expected: &[u8],
        slowly: Option<(usize, Duration)>,
        deadline: Duration,
        stall: Duration,
    ) -> Result<(), String> {
        let until = tokio::time::Instant::now() + deadline;
        let base = self.received;
        let mut got = 0usize;
        let max_read = slowly.map_or(self.buf.len(), |(chunk, _)| chunk.min(self.buf.len()));
        while got < expected.len() {
            let want = (expected.len() - got).min(max_read);
            let rd = self.reader.as_mut().expect("connected");
            let wait_until = until.min(tokio::time::Instant::now() + stall);
            let n = match tokio::time::timeout_at(wait_until, rd.read(&mut self.buf[..want])).await {
                Err(_) => {
                    let mut msg = if wait_until < until {
                        format!("no reply byte for {}: got {got} of {} bytes", format_duration(stall), expected.len())
                    } else {
                        format!(
                            "no complete reply within {}: got {got} of {} bytes",
                            format_duration(deadline),
                            expected.len()
                        )
                    };
                    if let Some(e) = self.writer_error() {
                        let _ = write!(msg, " (sending failed: {e})");
                    }
                    return Err(msg);
                }
                Ok(Err(e)) => return Err(format!("{} after {got} of {} reply bytes", describe_io(&e), expected.len())),
                Ok(Ok(0)) => {
                    return Err(format!(
                        "the server closed the connection after {got} of {} reply bytes",
                        expected.len()
                    ))
                }
                Ok(Ok(n)) => n,
            };
            let want_bytes = &expected[got..got + n];
            if &self.buf[..n] != want_bytes {
                let at = base + got as u64;
                if at == 0 {
                    let first = self.buf[..n].to_vec();
                    if let Some(msg) = self.banner(first, expected, until, true).await {
                        return Err(msg);
                    }
                }
                return Err(format!("wrong reply: {}", mismatch(&expected[got..], &self.buf[..n], at)));
            }
            got += n;
            self.received += n as u64;
            if let Some((_, pause)) = slowly {
                tokio::time::sleep(pause).await;
            }
        }
        let used = expected.len().min(self.unchecked.len());
        self.unchecked.drain(..used);
        Ok(())
    }

    /// The first bytes of the connection (`stream`) are not the reply: if the reply follows them
    /// (read on for a moment to see), they were a greeting the server sent before being asked;
    /// with `whole_line`, so are bytes that end a line and are followed by nothing.
    async fn banner(
        &mut self,
        mut stream: Vec<u8>,
        expected: &[u8],
        until: tokio::time::Instant,
        whole_line: bool,
    ) -> Option<String> {
        let probe = &expected[..expected.len().min(16)];
        let limit = (tokio::time::Instant::now() + Duration::from_millis(200)).min(until);
        loop {
            if let Some(k) =
                (1..stream.len()).find(|&k| stream[k..].starts_with(&probe[..probe.len().min(stream.len() - k)]))
            {
                if stream.len() - k >= probe.len() || stream[..k].ends_with(b"\n") {
                    return Some(greeting(&stream[..k]));
                }
            }
            if stream.len() > expected.len() + 4096 {
                return None;
            }
            let rd = self.reader.as_mut().expect("connected");
            match tokio::time::timeout_at(limit, rd.read(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => stream.extend_from_slice(&self.buf[..n]),
                // Nothing follows: a greeting that ends its line is still one.
                _ if whole_line && stream.ends_with(b"\n") && !expected.ends_with(b"\n") => {
                    return Some(greeting(&stream))
                }
                _ => return None,
            }
        }
    }

    async fn expect_silence(&mut self, d: Duration) -> StepResult {
        let started = Instant::now();
        let rd = self.reader.as_mut().expect("connected");
        match tokio::time::timeout(d, rd.read(&mut self.buf)).await {
            Err(_) => Ok(format!("nothing for {}", format_duration(d))),
            Ok(Ok(0)) => Err(format!("the server closed the connection after {}", format_duration(started.elapsed()))),
            Ok(Ok(n)) if self.asked_nothing() => Err(greeting(&self.buf[..n])),
            Ok(Ok(n)) => Err(format!(
                "got {n} bytes after {} while this client should get nothing: {}",
                format_duration(started.elapsed()),
                excerpt(&self.buf[..n])
            )),
            Ok(Err(e)) => Err(describe_io(&e)),
        }
    }

    async fn expect_eof(&mut self, deadline: Duration) -> StepResult {
        let started = Instant::now();
        if !self.unchecked.is_empty() {
            return Err(format!(
                "{} sent bytes have no checked reply yet (add .expect_reply() first)",
                self.unchecked.len()
            ));
        }
        let rd = self.reader.as_mut().expect("connected");
        match tokio::time::timeout(deadline, rd.read(&mut self.buf)).await {
            Err(_) => Err(format!("the server did not close the connection within {}", format_duration(deadline))),
            Ok(Ok(0)) => Ok(format!("closed by the server after {}", format_duration(started.elapsed()))),
            Ok(Ok(n)) if self.asked_nothing() => Err(greeting(&self.buf[..n])),
            Ok(Ok(n)) => {
                Err(format!("expected the connection to close, got {n} more bytes: {}", excerpt(&self.buf[..n])))
            }
            Ok(Err(e)) => Err(format!("expected a clean close, got: {}", describe_io(&e))),
        }
    }

    /// Close at once: stop the writer, drop the socket.
    pub(super) async fn close_now(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort().await;
        }
        self.reader = None;
        self.linger = None;
    }
}

/// One read of what is there now, `None` when the read would wait. No timer: a zero timeout
/// parks the runtime until the next timer tick, a millisecond per call (per connection).
async fn read_now<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut [u8]) -> Option<io::Result<usize>> {
    std::future::poll_fn(|cx| {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut *rd).poll_read(cx, &mut rb) {
            Poll::Ready(r) => Poll::Ready(Some(r.map(|()| rb.filled().len()))),
            Poll::Pending => Poll::Ready(None),
        }
    })
    .await
}
