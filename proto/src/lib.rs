//! The uppercase-echo protocol without I/O: what the server does to the bytes, and its
//! communication loop as a state machine that the caller feeds with reads and writes. No sockets,
//! no runtime, no dependencies: the reference server (with [`serve`] or `sockcheck`'s tokio
//! drivers), the fuzz targets, the property tests and the benches all run this same code.
//!
//! The protocol has no framing: the reply to N bytes is N bytes, so a client knows a reply is whole
//! when it has read as many bytes as it sent ([`ReplyAssembler`]).
//!
//! # Layout
//! - [`transform`]: what happens to each byte, [`Transform`] (`upper` or `echo`), and the
//!   vectorised [`upper_in_place`].
//! - [`stream`]: the server's side, [`EchoConn`]: the tutorial's `recv`/`sendall` loop as a
//!   state machine, its blocking driver [`serve`], and [`ConnStats`].
//! - [`datagram`]: the datagram server's loop body, [`DatagramEcho`]: (datagram, peer) to
//!   (reply, peer), one reply per datagram, truncation refused; and the client's side,
//!   [`DatagramRequest`]: which datagram answers a line, and when to resend it.
//! - [`reply`]: the client's side: [`ReplyAssembler`] and [`strip_line`].
//! - [`matrix`]: the two axes every scenario runs over, [`Transport`] and the server's [`Mode`].

#![warn(missing_docs)]

pub mod datagram;
pub mod matrix;
pub mod reply;
mod spare;
pub mod stream;
pub mod transform;

pub use datagram::{Answer, DatagramEcho, DatagramRequest, DatagramStats, OnTimeout, Received, Stray};
pub use matrix::{Mode, Transport};
pub use reply::{strip_line, ReplyAssembler};
pub use stream::{serve, ConnStats, EchoConn, NextIo};
pub use transform::{upper_in_place, Transform};
