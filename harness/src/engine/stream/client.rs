//! One client that sockcheck plays in a server scenario: a connection, a writer task, and the
//! reads each step checks.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf, ReadHalf};

use crate::addr::Endpoint;
use crate::engine::{RunOpts, StepResult};
use crate::facts::{Bytes, Difference, Ending, Fact, IoFault, Misuse, Unit};
use crate::faults::{Pacing, Writer};
use crate::net::{self, Conn};
use crate::proto::Transform;
use crate::scenario::{Payload, Step, TimedStep};

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

    fn writer_error(&self) -> Option<IoFault> {
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
            return Err(Fact::Misuse { what: Misuse::NotConnected });
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
                    return Err(Fact::Misuse { what: Misuse::NothingSent });
                }
                let deadline = t.within.unwrap_or(opts.reply_deadline(expected.len()));
                self.expect_reply(&expected, *slowly, deadline, opts.step_timeout).await
            }
            Step::ExpectPartialReply(n) => {
                if (*n).min(self.unchecked.len()) == 0 {
                    return Err(Fact::Misuse { what: Misuse::NothingSent });
                }
                let started = Instant::now();
                let take = self.read_pending_prefix(*n, transform, t.within, opts).await?;
                Ok(Fact::PartlyReplied {
                    bytes: take as u64,
                    took: started.elapsed().into(),
                    pending: self.unchecked.len() as u64,
                })
            }
            Step::ExpectSilence(d) => self.expect_silence(*d).await,
            Step::ExpectEof => self.expect_eof(t.within.unwrap_or(opts.step_timeout)).await,
            Step::HalfClose => {
                // Queued behind the data: the writer shuts its side once everything is sent,
                // while this client goes on reading.
                let w = self.writer.as_ref().expect("connected");
                w.shutdown().map_err(|e| Fact::Setup { what: e })?;
                Ok(Fact::HalfClosed { queued: w.queued() })
            }
            Step::Close => {
                self.flush(t.within.unwrap_or(opts.reply_deadline(self.unchecked.len()))).await?;
                self.close_now().await;
                Ok(Fact::Closed)
            }
            Step::Reset => {
                self.linger
                    .as_ref()
                    .expect("connected")
                    .set_linger_zero()
                    .map_err(|e| Fact::Setup { what: e.to_string() })?;
                self.close_now().await;
                Ok(Fact::Reset)
            }
            Step::VanishMidReply { after } => {
                let pending = self.unchecked.len();
                let take = self.read_pending_prefix(*after, transform, t.within, opts).await?;
                self.close_now().await;
                Ok(Fact::Vanished { read: take as u64, pending: pending as u64 })
            }
            Step::Wait(d) => {
                tokio::time::sleep(*d).await;
                Ok(Fact::Nothing)
            }
            _ => Err(Fact::Misuse { what: Misuse::DatagramStepOverStream }),
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
    ) -> Result<usize, Fact> {
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
            return Err(Fact::Misuse { what: Misuse::AlreadyConnected });
        }
        let conn = net::connect_with(endpoint, recv_buffer, timeout).await.map_err(|e| Fact::ConnectFailed {
            to: endpoint.to_string(),
            error: match &e {
                crate::Error::Connect { reason, .. } => IoFault::from(reason),
                other => IoFault { kind: crate::facts::IoKind::Other, os: other.to_string() },
            },
        })?;
        let linger = conn.linger_handle();
        let (rd, wr) = tokio::io::split(conn);
        self.reader = Some(rd);
        self.writer = Some(Writer::spawn(wr, Pacing::default(), linger.clone()));
        self.linger = Some(linger);
        self.unchecked.clear();
        self.received = 0;
        self.buf = vec![0; 64 * 1024];
        Ok(Fact::Connected { to: endpoint.to_string() })
    }

    fn send(&mut self, p: &Payload) -> StepResult {
        let bytes: Arc<[u8]> = p.bytes().into();
        self.unchecked.extend_from_slice(&bytes);
        let n = bytes.len();
        self.writer.as_mut().expect("connected").send(bytes).map_err(|e| Fact::Setup { what: e })?;
        Ok(Fact::Queued { bytes: n as u64 })
    }

    async fn flush(&mut self, deadline: Duration) -> StepResult {
        let w = self.writer.as_ref().expect("connected");
        let queued = w.queued();
        match w.written(deadline).await {
            Ok(p) => match p.error {
                Some(error) => Err(Fact::SendFailed { written: p.written, queued, error }),
                None => Ok(Fact::Sent { bytes: queued }),
            },
            Err(written) => Err(Fact::SendStalled { written, queued, within: deadline.into() }),
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
                    let bytes = Bytes::of(&self.buf[..n]);
                    return Err(Fact::MoreThanReply { bytes, reply: expected.len() as u64, at: self.received });
                }
            }
        }
        Ok(Fact::Replied { bytes: expected.len() as u64, took: started.elapsed().into() })
    }

    /// Read exactly `expected.len()` bytes and compare them as they come.
    async fn read_checked(
        &mut self,
        expected: &[u8],
        slowly: Option<(usize, Duration)>,
        deadline: Duration,
        stall: Duration,
    ) -> Result<(), Fact> {
        let until = tokio::time::Instant::now() + deadline;
        let base = self.received;
        let mut got = 0usize;
        let max_read = slowly.map_or(self.buf.len(), |(chunk, _)| chunk.min(self.buf.len()));
        let (expected_len, got_u64) = (expected.len() as u64, |g: usize| g as u64);
        while got < expected.len() {
            let want = (expected.len() - got).min(max_read);
            let rd = self.reader.as_mut().expect("connected");
            let wait_until = until.min(tokio::time::Instant::now() + stall);
            let n = match tokio::time::timeout_at(wait_until, rd.read(&mut self.buf[..want])).await {
                Err(_) => {
                    let stalled = wait_until < until;
                    return Err(Fact::NoReply {
                        got: got_u64(got),
                        expected: expected_len,
                        waited: if stalled { stall.into() } else { deadline.into() },
                        stalled,
                        send_error: self.writer_error(),
                        missing: Bytes::of(&expected[got..]),
                    });
                }
                Ok(Err(e)) => {
                    let how = Ending::Error(IoFault::from(&e));
                    return Err(Fact::ConnectionEnded { got: got_u64(got), expected: expected_len, how });
                }
                Ok(Ok(0)) => {
                    return Err(Fact::ConnectionEnded {
                        got: got_u64(got),
                        expected: expected_len,
                        how: Ending::Closed,
                    })
                }
                Ok(Ok(n)) => n,
            };
            if self.buf[..n] != expected[got..got + n] {
                // The bytes just compared, nothing read after them.
                let diff = Difference::between(Unit::Stream, &expected[got..], &self.buf[..n], base + got as u64);
                return Err(Fact::WrongReply { diff });
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

    async fn expect_silence(&mut self, d: Duration) -> StepResult {
        let started = Instant::now();
        let rd = self.reader.as_mut().expect("connected");
        match tokio::time::timeout(d, rd.read(&mut self.buf)).await {
            Err(_) => Ok(Fact::Quiet { waited: d.into() }),
            Ok(Ok(0)) => Err(Fact::ClosedByServer { after: started.elapsed().into() }),
            Ok(Ok(n)) if self.asked_nothing() => Err(Fact::Unasked { bytes: Bytes::of(&self.buf[..n]) }),
            Ok(Ok(n)) => Err(Fact::NotQuiet {
                bytes: Bytes::of(&self.buf[..n]),
                after: started.elapsed().into(),
                others_closed: vec![],
            }),
            Ok(Err(e)) => Err(Fact::ReadFailed { error: IoFault::from(&e) }),
        }
    }

    async fn expect_eof(&mut self, deadline: Duration) -> StepResult {
        let started = Instant::now();
        if !self.unchecked.is_empty() {
            return Err(Fact::Misuse { what: Misuse::UncheckedReply });
        }
        let rd = self.reader.as_mut().expect("connected");
        match tokio::time::timeout(deadline, rd.read(&mut self.buf)).await {
            Err(_) => Err(Fact::NotClosed { within: deadline.into() }),
            Ok(Ok(0)) => Ok(Fact::ClosedByServer { after: started.elapsed().into() }),
            Ok(Ok(n)) if self.asked_nothing() => Err(Fact::Unasked { bytes: Bytes::of(&self.buf[..n]) }),
            Ok(Ok(n)) => Err(Fact::MoreBeforeClose { bytes: Bytes::of(&self.buf[..n]) }),
            Ok(Err(e)) => Err(Fact::ReadFailed { error: IoFault::from(&e) }),
        }
    }

    /// Whether the server has closed this connection (EOF is there to read, nothing before it).
    pub(super) async fn closed_by_server(&mut self) -> bool {
        match self.reader.as_mut() {
            Some(rd) => matches!(read_now(rd, &mut self.buf).await, Some(Ok(0))),
            None => false,
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
