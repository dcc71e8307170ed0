//! The reference client over datagrams (`sockcheck client --udp | --unix-dgram`): the stream
//! client's loop, plus what a datagram client must do.
//!
//! Each non-empty stripped line goes out as one datagram. Its reply is the next datagram from the
//! server's address that is as long as the line ([`DatagramRequest`]); anything else (another
//! sender, another length, a datagram cut by the buffer) is ignored. Datagrams already waiting
//! before a line is sent are late or duplicate replies to earlier lines and are thrown away
//! first. No reply within the timeout: the line is sent again, at most `retries` times, then
//! the client gives up with one line on stderr. The socket file of an AF_UNIX client lives in a
//! temp dir of its own, removed when [`StdDgram`] drops (the caller also registers it for
//! removal on a signal).

use std::io::{BufRead, Write};
use std::time::Duration;

use super::{ClientConfig, ClientError};
use crate::net::StdDgram;
use crate::proto::{DatagramRequest, OnTimeout, Received, Stray};

/// How long a datagram client waits for a reply before it sends the line again.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The largest UDP payload over IPv4, so the largest line a datagram client sends.
pub const MAX_LINE: usize = crate::net::dgram::MAX_UDP_PAYLOAD;
/// One byte more than any reply: a longer datagram shows as cut (`MSG_TRUNC`), never as a reply.
const RECV_BUFFER: usize = 65_536;

/// Run the client loop over `sock`: lines from `input`, replies to `out`. Ends `Ok` at end of
/// input.
pub fn run<R: BufRead, W: Write>(
    cfg: &ClientConfig,
    sock: &StdDgram,
    mut input: R,
    mut out: W,
) -> Result<(), ClientError> {
    let timeout = cfg.reply_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut line = Vec::new();
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        super::show_prompt(cfg, &mut out)?;
        let Some(msg) = super::read_line(&mut input, &mut line)? else { return Ok(()) };
        if msg.is_empty() {
            continue;
        }
        if msg.len() > MAX_LINE {
            return Err(ClientError::TooLong(msg.len()));
        }
        sock.drain(&mut buf)?;
        let reply = exchange(sock, msg, &mut buf, timeout, cfg.retries).map_err(|e| match e {
            ClientError::Refused => ClientError::NoReply(format!(
                "nothing listens at {}: connection refused (the kernel got an ICMP port unreachable)",
                cfg.endpoint
            )),
            ClientError::Send(why) => ClientError::Send(format!("sendto {}: {why}", cfg.endpoint)),
            e => e,
        })?;
        super::print_reply(&mut out, reply)?;
    }
}

/// Send `msg` as one datagram and wait for its reply, sending it again on each timeout.
fn exchange<'b>(
    sock: &StdDgram,
    msg: &[u8],
    buf: &'b mut [u8],
    timeout: Duration,
    retries: u32,
) -> Result<&'b [u8], ClientError> {
    let send = |sock: &StdDgram| {
        sock.send(msg).map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ClientError::Refused,
            _ => ClientError::Send(e.to_string()),
        })
    };
    send(sock)?;
    let mut request = DatagramRequest::sent(msg.len(), retries);
    let (mut strangers, mut others) = (0usize, 0usize);
    let mut until = std::time::Instant::now() + timeout;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        let received = sock.recv(buf, left).map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ClientError::Refused,
            _ => e.into(),
        })?;
        match received {
            Some((n, truncated, from_server)) => match request.on_datagram(Received { len: n, truncated }, from_server)
            {
                Ok(()) => return Ok(&buf[..n]),
                Err(Stray::OtherSender) => strangers += 1,
                Err(Stray::Truncated | Stray::OtherLength(_)) => others += 1,
            },
            None => match request.on_timeout() {
                OnTimeout::Resend(_) => {
                    send(sock)?;
                    until = std::time::Instant::now() + timeout;
                }
                OnTimeout::GiveUp { sent } => {
                    let mut why = format!(
                        "no reply within {:.1}s to a line sent {sent} time{}: giving up",
                        timeout.as_secs_f64(),
                        if sent == 1 { "" } else { "s" }
                    );
                    if strangers > 0 {
                        why += &format!(" ({strangers} datagram(s) from other addresses ignored)");
                    }
                    if others > 0 {
                        why += &format!(" ({others} datagram(s) of another length ignored)");
                    }
                    return Err(ClientError::NoReply(why));
                }
            },
        }
    }
}
