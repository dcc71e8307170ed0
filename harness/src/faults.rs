//! Faults: bytes written the way a worse network than loopback would deliver them, and the
//! background writer every played connection uses.
//!
//! [`Pacing`] cuts what is written into pieces (of N bytes, or inside every multi-byte UTF-8
//! character) with a pause before each; [`Writer`] is a task that writes queued bytes with a pacing
//! while its connection goes on reading, and can shut down (FIN) or reset (RST) the connection
//! after what is queued. The proxy, sockcheck's clients of a server scenario and the server that
//! sockcheck plays for a client scenario all write through these.
//!
//! [`DatagramShaper`] is the datagram counterpart, without I/O: it drops, duplicates and swaps
//! datagrams by counting them (never by time), so what a peer behind it receives is exact.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::net::LingerHandle;

/// How written bytes are cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pieces {
    /// As they come.
    #[default]
    Whole,
    /// At most this many bytes per write (at least 1).
    Slice(usize),
    /// Cut before every UTF-8 continuation byte: every multi-byte character is split.
    Utf8,
}

/// How bytes are written: pieces, and a pause before each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pacing {
    /// How the bytes are cut.
    pub pieces: Pieces,
    /// A pause before each piece, if any.
    pub pause: Option<Duration>,
}

impl Pacing {
    /// Pieces of at most `n` bytes, `pause` before each.
    pub fn slice(n: usize, pause: Option<Duration>) -> Self {
        Pacing { pieces: Pieces::Slice(n.max(1)), pause }
    }

    /// Every multi-byte character split, `pause` before each piece.
    pub fn utf8(pause: Duration) -> Self {
        Pacing { pieces: Pieces::Utf8, pause: Some(pause) }
    }

    /// `data` cut into the pieces written one by one.
    pub fn cut<'a>(&self, data: &'a [u8]) -> Vec<&'a [u8]> {
        match self.pieces {
            Pieces::Whole => vec![data],
            Pieces::Slice(n) => data.chunks(n.max(1)).collect(),
            Pieces::Utf8 => utf8_cuts(data),
        }
    }
}

/// Cut points inside multi-byte UTF-8 characters: before every continuation byte.
pub fn utf8_cuts(reply: &[u8]) -> Vec<&[u8]> {
    let mut pieces = vec![];
    let mut start = 0;
    for i in 1..reply.len() {
        if reply[i] & 0b1100_0000 == 0b1000_0000 {
            pieces.push(&reply[start..i]);
            start = i;
        }
    }
    pieces.push(&reply[start..]);
    pieces
}

/// Write `data` as `pacing` says; `sent(n)` is told of every write as it completes.
pub async fn write_paced<W: AsyncWrite + Unpin>(
    to: &mut W,
    data: &[u8],
    pacing: &Pacing,
    mut sent: impl FnMut(usize),
) -> io::Result<()> {
    for piece in pacing.cut(data) {
        if let Some(p) = pacing.pause {
            tokio::time::sleep(p).await;
        }
        let mut off = 0;
        while off < piece.len() {
            match to.write(&piece[off..]).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => {
                    off += n;
                    sent(n);
                }
            }
        }
        if pacing.pause.is_some() || pacing.pieces != Pieces::Whole {
            // Each piece on its own (a no-op for sockets; buffered writers flush).
            to.flush().await?;
        }
    }
    Ok(())
}

/// What a [`Writer`] has done so far.
#[derive(Clone, Debug, Default)]
pub struct WriteProgress {
    /// Bytes written to the connection.
    pub written: u64,
    /// The write side is shut down (FIN sent).
    pub shut: bool,
    /// Why writing stopped.
    pub error: Option<crate::facts::IoFault>,
}

enum WriteCmd {
    Data(Arc<[u8]>),
    Shutdown,
    Reset,
}

/// A task that writes a connection's queued bytes while the connection reads.
pub struct Writer {
    tx: mpsc::UnboundedSender<WriteCmd>,
    progress: watch::Receiver<WriteProgress>,
    task: tokio::task::JoinHandle<()>,
    queued: u64,
}

impl Writer {
    /// Start writing to `to` with `pacing`; `linger` resets the connection on [`Writer::reset`].
    /// Call from within a tokio runtime.
    pub fn spawn<W>(mut to: W, pacing: Pacing, linger: LingerHandle) -> Writer
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (ptx, prx) = watch::channel(WriteProgress::default());
        let task = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                let r = match cmd {
                    WriteCmd::Data(bytes) => {
                        write_paced(&mut to, &bytes, &pacing, |n| ptx.send_modify(|p| p.written += n as u64)).await
                    }
                    WriteCmd::Shutdown => to.shutdown().await.map(|()| ptx.send_modify(|p| p.shut = true)),
                    // The socket closes when both halves are gone; this makes that close a reset.
                    WriteCmd::Reset => linger.set_linger_zero(),
                };
                if let Err(e) = r {
                    ptx.send_modify(|p| p.error = Some(crate::facts::IoFault::from(&e)));
                    return;
                }
            }
        });
        Writer { tx, progress: prx, task, queued: 0 }
    }

    /// Queue bytes.
    pub fn send(&mut self, bytes: Arc<[u8]>) -> Result<(), String> {
        self.queued += bytes.len() as u64;
        self.tx.send(WriteCmd::Data(bytes)).map_err(|_| "the writer has stopped".to_string())
    }

    /// `shutdown(Write)` once everything queued is written.
    pub fn shutdown(&self) -> Result<(), String> {
        self.tx.send(WriteCmd::Shutdown).map_err(|_| "the writer has stopped".to_string())
    }

    /// Make the connection's close a reset (`SO_LINGER 0`) once everything queued is written.
    pub fn reset(&self) -> Result<(), String> {
        self.tx.send(WriteCmd::Reset).map_err(|_| "the writer has stopped".to_string())
    }

    /// Bytes queued so far.
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// What the writer has done so far.
    pub fn progress(&self) -> WriteProgress {
        self.progress.borrow().clone()
    }

    /// A view of the progress that outlives the writer.
    pub fn watch(&self) -> watch::Receiver<WriteProgress> {
        self.progress.clone()
    }

    /// Wait until everything queued is written or writing failed; `Err` with the bytes written
    /// when the deadline passes first.
    pub async fn written(&self, deadline: Duration) -> Result<WriteProgress, u64> {
        let queued = self.queued;
        let mut progress = self.progress.clone();
        let waited = tokio::time::timeout(deadline, async {
            let _ = progress.wait_for(|p| p.written >= queued || p.error.is_some()).await;
        })
        .await;
        match waited {
            Ok(()) => Ok(self.progress()),
            Err(_) => Err(self.progress.borrow().written),
        }
    }

    /// Stop at once, whatever is still queued.
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Write what is queued, then stop.
    pub async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

/// What is done to datagrams, counted per peer and direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramFaults {
    /// Drop every Nth datagram that comes (N, 2N, ...; 1 drops all).
    pub drop_every: Option<u64>,
    /// Send each datagram twice.
    pub duplicate: bool,
    /// Swap each pair: hold the first, send the second then the first.
    pub reorder: bool,
}

/// One direction of one peer's datagrams through [`DatagramFaults`]: drops first (on the count of
/// datagrams that came), then swaps the survivors in pairs, then doubles what goes.
#[derive(Debug, Default)]
pub struct DatagramShaper {
    faults: DatagramFaults,
    seen: u64,
    held: Option<Vec<u8>>,
}

impl DatagramShaper {
    /// A shaper that has seen no datagram yet.
    pub fn new(faults: DatagramFaults) -> Self {
        DatagramShaper { faults, seen: 0, held: None }
    }

    /// A datagram came: the datagrams to send now, in order (none while one is held for a swap).
    pub fn on_datagram(&mut self, datagram: Vec<u8>) -> Vec<Vec<u8>> {
        self.seen += 1;
        if self.faults.drop_every.is_some_and(|n| self.seen.is_multiple_of(n.max(1))) {
            return vec![];
        }
        let out = match (self.faults.reorder, self.held.take()) {
            (false, _) => vec![datagram],
            (true, None) => {
                self.held = Some(datagram);
                return vec![];
            }
            (true, Some(first)) => vec![datagram, first],
        };
        if self.faults.duplicate {
            out.into_iter().flat_map(|d| [d.clone(), d]).collect()
        } else {
            out
        }
    }

    /// Datagrams that came so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(faults: DatagramFaults, n: u8) -> Vec<u8> {
        let mut s = DatagramShaper::new(faults);
        (1..=n).flat_map(|i| s.on_datagram(vec![i])).flatten().collect()
    }

    #[test]
    fn datagram_faults_are_counted_not_timed() {
        let none = DatagramFaults::default();
        assert_eq!(shape(none, 4), [1, 2, 3, 4]);
        assert_eq!(shape(DatagramFaults { drop_every: Some(3), ..none }, 7), [1, 2, 4, 5, 7]);
        assert_eq!(shape(DatagramFaults { drop_every: Some(1), ..none }, 3), [0u8; 0]);
        assert_eq!(shape(DatagramFaults { duplicate: true, ..none }, 2), [1, 1, 2, 2]);
        assert_eq!(shape(DatagramFaults { reorder: true, ..none }, 5), [2, 1, 4, 3]);
        // Drops count what came; the survivors are then swapped in pairs and doubled.
        let all = DatagramFaults { drop_every: Some(2), duplicate: true, reorder: true };
        assert_eq!(shape(all, 6), [3, 3, 1, 1]);
    }

    #[test]
    fn utf8_cuts_split_every_multibyte_character() {
        let s = "aé你".as_bytes();
        let pieces = utf8_cuts(s);
        assert_eq!(pieces.concat(), s);
        assert_eq!(pieces, vec![&b"a\xc3"[..], b"\xa9\xe4", b"\xbd", b"\xa0"]);
        assert!(pieces.iter().all(|p| std::str::from_utf8(p).is_err()));
    }

    #[test]
    fn slices_cover_the_data_in_order() {
        let p = Pacing::slice(3, None);
        assert_eq!(p.cut(b"abcdefg"), vec![&b"abc"[..], b"def", b"g"]);
        assert_eq!(Pacing::default().cut(b"abc"), vec![&b"abc"[..]]);
    }
}
