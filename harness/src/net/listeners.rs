//! Whether a TCP port has a listening socket, asked of the kernel's socket-diagnostics netlink
//! interface (`NETLINK_SOCK_DIAG`, what `ss -ltn` uses).
//!
//! `check --spawn` asks this many times while each program starts. `/proc/net/tcp` answers the
//! same question but formats a line for every TCP socket of the machine, `TIME_WAIT` ones
//! included: after a few thousand short connections each read walked and printed them all, and
//! those reads were about a seventh of the CPU time of the whole test suite. A dump of
//! `LISTEN` sockets walks only the kernel's listening table.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

/// Whether a TCP socket listens where a connect to `addr` would reach it: on its port, at its
/// address or a wildcard one (`0.0.0.0`, `::`, or the IPv4-mapped address); an error when the
/// kernel cannot be asked this way (then read `/proc/net/tcp`).
pub fn tcp_listens(addr: SocketAddr) -> io::Result<bool> {
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    // The kernel answers a dump at once; the deadline only stops a broken netlink from hanging us.
    socket2::SockRef::from(&socket).set_read_timeout(Some(Duration::from_secs(1)))?;
    for (family, id) in [(AF_INET, SocketId::new_v4()), (AF_INET6, SocketId::new_v6())] {
        if family_listens(&socket, family, id, addr)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn family_listens(socket: &Socket, family: u8, socket_id: SocketId, addr: SocketAddr) -> io::Result<bool> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let request = SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::LISTEN,
        socket_id,
    });
    let mut packet = NetlinkMessage::new(header, request.into());
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let mut found = false;
    // Larger than any message of a dump (the kernel sizes them to at most 32 KiB).
    let mut recv = Vec::with_capacity(64 * 1024);
    loop {
        recv.clear();
        socket.recv(&mut recv, 0)?;
        let mut rest = &recv[..];
        while !rest.is_empty() {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(rest)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}")))?;
            let len = (message.header.length as usize).min(rest.len());
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                    let id = &r.header.socket_id;
                    found |= id.source_port == addr.port() && reaches(id.source_address, addr.ip());
                }
                NetlinkPayload::Done(_) => return Ok(found),
                NetlinkPayload::Error(e) => {
                    return Err(e.code.map_or_else(
                        || io::Error::other("sock_diag error"),
                        |c| io::Error::from_raw_os_error(-c.get()),
                    ))
                }
                _ => {}
            }
            if len == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "sock_diag: empty message"));
            }
            rest = &rest[len..];
        }
    }
}

/// Whether a connect to `to` reaches a listener bound to `bound`: the same address, or the
/// wildcard of its family; an IPv6 wildcard takes IPv4 too (unless `IPV6_V6ONLY`, which a
/// socket dump does not say), and an IPv4-mapped IPv6 address is the IPv4 one.
fn reaches(bound: IpAddr, to: IpAddr) -> bool {
    let mapped = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (mapped(bound), mapped(to)) {
        (IpAddr::V6(b), _) if b.is_unspecified() => true,
        (IpAddr::V4(b), IpAddr::V4(_)) if b.is_unspecified() => true,
        (b, t) => b == t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_seen_and_a_bound_socket_is_not() {
        for ip in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(bound) = std::net::TcpListener::bind(ip) else { continue };
            let addr = bound.local_addr().unwrap();
            assert!(tcp_listens(addr).unwrap(), "{ip}");
        }
        // Bound, not listening: not ready. (Not "closed, so gone": another test's child process
        // may hold the listener between its fork and its exec.)
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).unwrap();
        let addr = s.local_addr().unwrap().as_socket().unwrap();
        assert!(!tcp_listens(addr).unwrap());
        s.listen(1).unwrap();
        assert!(tcp_listens(addr).unwrap());
        // Another address on the same port is not where a connect goes.
        assert!(!tcp_listens(SocketAddr::new([127, 0, 0, 2].into(), addr.port())).unwrap());
    }

    #[test]
    fn wildcard_and_mapped_listeners_reach_loopback() {
        let lo: IpAddr = [127, 0, 0, 1].into();
        assert!(reaches([0, 0, 0, 0].into(), lo));
        assert!(reaches(std::net::Ipv6Addr::UNSPECIFIED.into(), lo));
        assert!(reaches("::ffff:127.0.0.1".parse().unwrap(), lo));
        assert!(!reaches("::1".parse().unwrap(), lo));
        assert!(!reaches([127, 0, 0, 2].into(), lo));
        assert!(!reaches([0, 0, 0, 0].into(), "::1".parse().unwrap()), "an IPv4 wildcard takes no IPv6");
    }
}
