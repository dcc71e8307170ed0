//! The tutorial's UDP server loop, `data, addr = recvfrom(1024); sendto(data.upper(), addr)`,
//! without sockets: a function from (datagram, peer) to (reply, peer).
//!
//! A datagram is a whole message: the reply is one datagram of the same length, to the address
//! it came from. An empty datagram is a message too (its reply is empty); it never means "the peer
//! left". A datagram cut by a receive buffer smaller than it ([`Received::truncated`]) is not
//! answered: a cut reply would look like a server bug to the client, so the driver logs it.

use crate::Transform;

/// What a `recvfrom` gave: the bytes that fit the buffer, and whether the datagram was longer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes of the datagram in the buffer.
    pub len: usize,
    /// The kernel cut the datagram (`MSG_TRUNC`): it had more bytes than the buffer.
    pub truncated: bool,
}

/// What the server does with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<'a, P> {
    /// Send these bytes (the transformed datagram, same length) to `to`.
    Reply {
        /// The reply: the transformed datagram.
        bytes: &'a [u8],
        /// The peer it came from.
        to: P,
    },
    /// Do not answer: the datagram was cut at `kept` bytes by a buffer of that size.
    Truncated {
        /// How many bytes the buffer kept.
        kept: usize,
        /// The peer it came from.
        from: P,
    },
}

/// Counts of one datagram server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Replies handed out to be sent.
    pub replies: u64,
    /// Datagrams cut by the buffer, left unanswered.
    pub truncated: u64,
    /// Bytes received.
    pub bytes: u64,
}

/// The datagram server's loop body, shared by the reference server, tests and fuzz targets.
#[derive(Debug)]
pub struct DatagramEcho {
    transform: Transform,
    stats: DatagramStats,
}

impl DatagramEcho {
    /// A loop body that applies `transform` to every datagram.
    pub fn new(transform: Transform) -> Self {
        DatagramEcho { transform, stats: DatagramStats::default() }
    }

    /// The counts so far.
    pub fn stats(&self) -> DatagramStats {
        self.stats
    }

    /// One datagram came from `peer` into `buf[..got.len]`: transform it in place and say where
    /// it goes (or that it was cut and gets no reply).
    pub fn on_datagram<'a, P>(&mut self, buf: &'a mut [u8], got: Received, peer: P) -> Answer<'a, P> {
        assert!(got.len <= buf.len(), "datagram of {} bytes in a {}-byte buffer", got.len, buf.len());
        self.stats.datagrams += 1;
        if got.truncated {
            self.stats.truncated += 1;
            return Answer::Truncated { kept: got.len, from: peer };
        }
        let bytes = &mut buf[..got.len];
        self.transform.apply(bytes);
        self.stats.replies += 1;
        self.stats.bytes += got.len as u64;
        Answer::Reply { bytes, to: peer }
    }
}

/// The client's side of one line over datagrams: which datagrams answer it, and what to do when
/// none comes in time.
///
/// A datagram can be lost (so the line is sent again after a timeout, a bounded number of times)
/// or duplicated, and anyone can send to the client's address. The reply is whole in one
/// datagram and as long as the line, so a datagram answers the line when it comes from the server,
/// was not cut, and has the line's length; anything else is a stray to ignore. Datagrams that
/// were already waiting before the line was sent are stale (a late or duplicate reply to an
/// earlier line): the driver drains them first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramRequest {
    len: usize,
    sent: u32,
    retries: u32,
}

/// Why a datagram that came is not the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stray {
    /// It came from another address than the server's.
    OtherSender,
    /// The buffer cut it: longer than any reply can be.
    Truncated,
    /// Its length is not the line's: a reply to another line.
    OtherLength(usize),
}

/// What to do when no reply came within the timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// Send the line again (this is send number `n`, counting from 1).
    Resend(u32),
    /// Every retry is spent: the line was sent `sent` times.
    GiveUp {
        /// How many times the line was sent.
        sent: u32,
    },
}

impl DatagramRequest {
    /// A line of `len` bytes, sent once so far, to be sent again at most `retries` times.
    pub fn sent(len: usize, retries: u32) -> Self {
        DatagramRequest { len, sent: 1, retries }
    }

    /// How many times the line has been sent.
    pub fn times_sent(&self) -> u32 {
        self.sent
    }

    /// Whether a datagram of `got.len` bytes (cut or not), from the server or not, is the reply.
    pub fn on_datagram(&self, got: Received, from_server: bool) -> Result<(), Stray> {
        if !from_server {
            Err(Stray::OtherSender)
        } else if got.truncated {
            Err(Stray::Truncated)
        } else if got.len != self.len {
            Err(Stray::OtherLength(got.len))
        } else {
            Ok(())
        }
    }

    /// The timeout passed without a reply.
    pub fn on_timeout(&mut self) -> OnTimeout {
        if self.sent > self.retries {
            return OnTimeout::GiveUp { sent: self.sent };
        }
        self.sent += 1;
        OnTimeout::Resend(self.sent)
    }
}

/// The reply to one whole datagram from `peer`: its transform, to `peer`.
pub fn reply_to<P>(datagram: &[u8], peer: P, transform: Transform) -> (Vec<u8>, P) {
    (transform.to_vec(datagram), peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reply_per_datagram_same_length_to_the_sender() {
        let mut echo = DatagramEcho::new(Transform::Upper);
        let mut buf = *b"hello\0\0\0";
        let got = Received { len: 5, truncated: false };
        assert_eq!(echo.on_datagram(&mut buf, got, "a"), Answer::Reply { bytes: &b"HELLO"[..], to: "a" });
        assert_eq!(
            echo.on_datagram(&mut buf, Received { len: 0, truncated: false }, "b"),
            Answer::Reply { bytes: &b""[..], to: "b" }
        );
        assert_eq!(echo.stats().replies, 2);
    }

    #[test]
    fn a_line_takes_only_a_whole_reply_from_the_server_and_gives_up_after_its_retries() {
        let mut r = DatagramRequest::sent(5, 2);
        let whole = Received { len: 5, truncated: false };
        assert_eq!(r.on_datagram(whole, true), Ok(()));
        assert_eq!(r.on_datagram(whole, false), Err(Stray::OtherSender));
        assert_eq!(r.on_datagram(Received { len: 3, truncated: false }, true), Err(Stray::OtherLength(3)));
        assert_eq!(r.on_datagram(Received { len: 5, truncated: true }, true), Err(Stray::Truncated));
        assert_eq!(r.on_timeout(), OnTimeout::Resend(2));
        assert_eq!(r.on_timeout(), OnTimeout::Resend(3));
        assert_eq!(r.on_timeout(), OnTimeout::GiveUp { sent: 3 });
        assert_eq!(r.times_sent(), 3);
        assert_eq!(DatagramRequest::sent(1, 0).on_timeout(), OnTimeout::GiveUp { sent: 1 });
    }

    #[test]
    fn a_cut_datagram_is_not_answered() {
        let mut echo = DatagramEcho::new(Transform::Upper);
        let mut buf = [b'x'; 4];
        let got = Received { len: 4, truncated: true };
        assert_eq!(echo.on_datagram(&mut buf, got, 7), Answer::Truncated { kept: 4, from: 7 });
        assert_eq!(echo.stats().truncated, 1);
        assert_eq!(reply_to(b"ab", 1, Transform::Upper), (b"AB".to_vec(), 1));
    }

    #[test]
    fn every_datagram_is_counted_and_only_whole_ones_are_answered() {
        let mut echo = DatagramEcho::new(Transform::Upper);
        let mut buf = *b"abcdef";
        for (len, truncated) in [(3, false), (6, true), (2, false)] {
            let answer = echo.on_datagram(&mut buf, Received { len, truncated }, "peer");
            match answer {
                Answer::Reply { bytes, to } => assert_eq!((bytes.len(), to, truncated), (len, "peer", false)),
                Answer::Truncated { kept, from } => assert_eq!((kept, from, truncated), (len, "peer", true)),
            }
        }
        assert_eq!(buf, *b"ABCdef");
        assert_eq!(echo.stats(), DatagramStats { datagrams: 3, replies: 2, truncated: 1, bytes: 5 });
    }
}
