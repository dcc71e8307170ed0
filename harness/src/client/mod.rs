//! The reference client: the tutorial's `input()` loop, done right.
//!
//! Each input line is stripped; an empty line is skipped (nothing sent, so nothing to wait for);
//! otherwise the line is sent and the whole reply — exactly as many bytes as were sent, however
//! many reads that takes ([`ReplyAssembler`]) — is printed, lossily if it is not UTF-8.
//! While waiting for input it also watches the socket, so a server that closes or resets is
//! reported at once rather than at the next line. Over datagrams, [`datagram`] plays the same
//! loop with timeouts and resends.

use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::addr::Endpoint;
use crate::net::StdConn;
use crate::proto::{strip_line, ReplyAssembler};

pub mod datagram;

/// Why a client session ended early.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection could not be made (bad address, refused, ...).
    #[error(transparent)]
    Setup(#[from] crate::error::Error),
    /// The server closed the connection before the whole reply came, or while waiting for input.
    #[error("server closed the connection")]
    Closed,
    /// The connection was reset, aborted, or broken.
    #[error("server reset the connection")]
    Reset,
    /// The reply was not whole within the reply timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The server sent bytes while no line was waiting for a reply (their count).
    #[error("server sent {0} bytes nobody asked for")]
    Unasked(usize),
    /// Datagrams: no reply after every resend, or nothing listens (the message says which).
    #[error("{0}")]
    NoReply(String),
    /// Over UDP: nothing listens at the server's port (an ICMP port unreachable came back).
    #[error("connection refused")]
    Refused,
    /// A line longer than one datagram can carry (its length).
    #[error("a line of {0} bytes is longer than a datagram can carry (65507 bytes)")]
    TooLong(usize),
    /// Sending a datagram failed (the system's words, with the address).
    #[error("{0}")]
    Send(String),
    /// Reading input, writing output, or another socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// How the reference client connects, waits and prompts.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The server to talk to.
    pub endpoint: Endpoint,
    /// Deadline for the connect (stream transports).
    pub connect_timeout: Duration,
    /// How long to wait for a whole reply; `None` waits as long as it takes.
    pub reply_timeout: Option<Duration>,
    /// Print the tutorial's `>>: ` prompt before each line.
    pub prompt: bool,
    /// Datagrams: how many times a line is sent again when its reply does not come.
    pub retries: u32,
}

impl ClientConfig {
    /// Defaults: 10 s to connect, no reply deadline (datagrams: [`datagram::DEFAULT_TIMEOUT`] a try),
    /// no prompt, 3 resends.
    pub fn new(endpoint: Endpoint) -> Self {
        ClientConfig {
            endpoint,
            connect_timeout: Duration::from_secs(10),
            reply_timeout: None,
            prompt: false,
            retries: 3,
        }
    }
}

fn classify(e: io::Error, timeout: Option<Duration>) -> ClientError {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
            ClientError::Reset
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout(timeout.unwrap_or_default()),
        _ => ClientError::Io(e),
    }
}

/// Wait until stdin has input or the socket has news. True when the socket is readable first.
fn socket_speaks_first(input: BorrowedFd<'_>, sock: BorrowedFd<'_>) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(input, PollFlags::POLLIN), PollFd::new(sock, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {
                let input_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
                let sock_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
                // Input first: a line typed before the server went away is still sent and fails clearly.
                return Ok(sock_ready && !input_ready);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Run the client loop: lines from `input`, replies to `out`. Ends `Ok` at end of input.
pub fn run<R: Read + AsFd, W: Write>(cfg: &ClientConfig, input: R, mut out: W) -> Result<(), ClientError> {
    let mut sock = StdConn::connect(&cfg.endpoint, cfg.connect_timeout)?;
    sock.set_read_timeout(cfg.reply_timeout)?;
    let mut input = io::BufReader::new(input);
    let mut line = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        show_prompt(cfg, &mut out)?;
        if input.buffer().is_empty() && socket_speaks_first(input.get_ref().as_fd(), sock_fd(&sock))? {
            return Err(match sock.read(&mut buf) {
                Ok(0) => ClientError::Closed,
                Ok(n) => ClientError::Unasked(n),
                Err(e) => classify(e, cfg.reply_timeout),
            });
        }
        let Some(msg) = read_line(&mut input, &mut line)? else { return Ok(()) };
        if msg.is_empty() {
            continue;
        }
        let reply = exchange(&mut sock, msg, &mut buf, cfg.reply_timeout)?;
        print_reply(&mut out, &reply)?;
    }
}

/// The tutorial's `>>: `, when asked for.
fn show_prompt(cfg: &ClientConfig, out: &mut impl Write) -> io::Result<()> {
    if cfg.prompt {
        out.write_all(b">>: ")?;
        out.flush()?;
    }
    Ok(())
}

/// The next input line, stripped (empty: nothing to send); `None` at end of input.
fn read_line<'a>(input: &mut impl BufRead, line: &'a mut Vec<u8>) -> io::Result<Option<&'a [u8]>> {
    line.clear();
    Ok((input.read_until(b'\n', line)? > 0).then(|| strip_line(line)))
}

/// A reply on a line of its own (lossily, if it is not UTF-8), flushed at once.
fn print_reply(out: &mut impl Write, reply: &[u8]) -> io::Result<()> {
    out.write_all(String::from_utf8_lossy(reply).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

fn sock_fd(sock: &StdConn) -> BorrowedFd<'_> {
    match sock {
        StdConn::Tcp(s) => s.as_fd(),
        StdConn::Unix(s) => s.as_fd(),
    }
}

/// Send `msg` and read back exactly `msg.len()` bytes. Large messages are written from a second
/// thread while this one reads, so neither side's kernel buffers can fill up and deadlock.
pub fn exchange(
    sock: &mut StdConn,
    msg: &[u8],
    buf: &mut [u8],
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ClientError> {
    const INLINE_WRITE: usize = 64 * 1024;
    let mut reply = ReplyAssembler::expect(msg.len());
    let read_all = |sock: &mut StdConn, reply: &mut ReplyAssembler, buf: &mut [u8]| -> Result<(), ClientError> {
        while !reply.is_complete() {
            let want = reply.remaining().min(buf.len());
            match sock.read(&mut buf[..want]) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => reply.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(classify(e, timeout)),
            }
        }
        Ok(())
    };
    if msg.len() <= INLINE_WRITE {
        sock.write_all(msg).map_err(|e| classify(e, timeout))?;
        read_all(sock, &mut reply, buf)?;
    } else {
        let mut writer = sock.try_clone()?;
        std::thread::scope(|s| {
            let w = s.spawn(move || writer.write_all(msg));
            let r = read_all(sock, &mut reply, buf);
            let w = w.join().unwrap_or_else(|_| Err(io::Error::other("writer thread panicked")));
            r?;
            w.map_err(|e| classify(e, timeout))
        })?;
    }
    Ok(reply.into_bytes())
}
