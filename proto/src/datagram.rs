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
    Reply { bytes: &'a [u8], to: P },
    /// Do not answer: the datagram was cut at `kept` bytes by a buffer of that size.
    Truncated { kept: usize, from: P },
}

/// Counts of one datagram server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramStats {
    pub datagrams: u64,
    pub replies: u64,
    pub truncated: u64,
    pub bytes: u64,
}

/// The datagram server's loop body, shared by the reference server, tests and fuzz targets.
#[derive(Debug)]
pub struct DatagramEcho {
    transform: Transform,
    stats: DatagramStats,
}

impl DatagramEcho {
    pub fn new(transform: Transform) -> Self {
        DatagramEcho { transform, stats: DatagramStats::default() }
    }

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
    fn a_cut_datagram_is_not_answered() {
        let mut echo = DatagramEcho::new(Transform::Upper);
        let mut buf = [b'x'; 4];
        let got = Received { len: 4, truncated: true };
        assert_eq!(echo.on_datagram(&mut buf, got, 7), Answer::Truncated { kept: 4, from: 7 });
        assert_eq!(echo.stats().truncated, 1);
        assert_eq!(reply_to(b"ab", 1, Transform::Upper), (b"AB".to_vec(), 1));
    }
}
