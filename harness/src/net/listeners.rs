//! The one reader of the kernel's socket tables, for every transport: whether something listens
//! at an address (a program is ready), and where a process listens (a program that listens
//! somewhere else than it was told, or that left its process group).
//!
//! TCP is asked of the kernel's socket-diagnostics netlink interface (`NETLINK_SOCK_DIAG`, what
//! `ss -ltn` uses), `/proc/net/tcp` where that is refused; UDP and Unix sockets are read from
//! `/proc/net/udp`, `udp6` and `unix`.
//!
//! `check --spawn` asks this many times while each program starts. `/proc/net/tcp` answers the
//! same question but formats a line for every TCP socket of the machine, `TIME_WAIT` ones
//! included: after a few thousand short connections each read walked and printed them all, and
//! those reads were about a seventh of the CPU time of the whole test suite. A dump of
//! `LISTEN` sockets walks only the kernel's listening table.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

use crate::addr::Endpoint;

/// Whether a socket listens at `endpoint` (datagrams: is bound there, unconnected); `None` when
/// the kernel cannot be asked.
pub fn listening(endpoint: &Endpoint) -> Option<bool> {
    if let Endpoint::Tcp(addr) = endpoint {
        if let Ok(found) = tcp_listens(*addr) {
            return Some(found);
        }
    }
    let table = table(endpoint.transport().is_datagram(), !matches!(endpoint, Endpoint::Tcp(_) | Endpoint::Udp(_)))?;
    Some(table.iter().any(|s| s.reaches(endpoint)))
}

/// Where process `pid` listens (stream sockets) or is bound (datagram sockets), as endpoints: a
/// program started with one address that listens at another, or one that left its process
/// group. Empty when it has no such socket or `/proc` cannot tell.
pub fn where_listens(pid: u32) -> Vec<Endpoint> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return vec![] };
    let inodes: Vec<u64> = fds
        .flatten()
        .filter_map(|fd| {
            let link = std::fs::read_link(fd.path()).ok()?;
            link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect();
    if inodes.is_empty() {
        return vec![];
    }
    let mut found = vec![];
    for (datagram, unix) in [(false, false), (true, false), (false, true), (true, true)] {
        for s in table(datagram, unix).unwrap_or_default() {
            if inodes.contains(&s.inode) && !found.contains(&s.endpoint) {
                found.push(s.endpoint);
            }
        }
    }
    found
}

/// Whether a connect (or a datagram) to `to` would reach a socket listening (or bound) at
/// `listening`: the same path or name, or the same port at the same or a wildcard address (a
/// connect to a wildcard address reaches the local host). Port 0 is never reached: the kernel
/// picks a free one.
pub fn would_reach(listening: &Endpoint, to: &Endpoint) -> bool {
    let unspecified_to = match (listening, to) {
        (Endpoint::Tcp(l), Endpoint::Tcp(t)) | (Endpoint::Udp(l), Endpoint::Udp(t)) => {
            l.port() != 0 && l.port() == t.port() && t.ip().is_unspecified()
        }
        _ => false,
    };
    unspecified_to || Bound { endpoint: listening.clone(), inode: 0 }.reaches(to) && !listens_on_port_0(listening)
}

fn listens_on_port_0(e: &Endpoint) -> bool {
    matches!(e, Endpoint::Tcp(a) | Endpoint::Udp(a) if a.port() == 0)
}

/// A socket that takes connections (or datagrams) at an address, and its inode.
#[derive(Clone, Debug)]
struct Bound {
    endpoint: Endpoint,
    inode: u64,
}

impl Bound {
    /// Whether a connect (or a datagram) to `to` reaches this socket.
    fn reaches(&self, to: &Endpoint) -> bool {
        match (&self.endpoint, to) {
            (Endpoint::Tcp(b), Endpoint::Tcp(t)) | (Endpoint::Udp(b), Endpoint::Udp(t)) => {
                b.port() == t.port() && reaches(b.ip(), t.ip())
            }
            (b, t) => b == t,
        }
    }
}

/// Every listening (stream) or bound and unconnected (datagram) socket of one kind; `None` when
/// no table can be read.
fn table(datagram: bool, unix: bool) -> Option<Vec<Bound>> {
    if unix {
        return unix_table(datagram);
    }
    if !datagram {
        if let Ok(found) = tcp_dump() {
            return Some(found);
        }
    }
    let (tables, listen_state) = if datagram {
        (["/proc/net/udp", "/proc/net/udp6"], "07")
    } else {
        (["/proc/net/tcp", "/proc/net/tcp6"], "0A")
    };
    let texts = tables.map(std::fs::read_to_string);
    if texts.iter().all(|t| t.is_err()) {
        return None;
    }
    let mut found = vec![];
    for text in texts.iter().flatten() {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        for f in text.lines().skip(1).map(|l| l.split_whitespace().collect::<Vec<_>>()) {
            let unconnected = f.get(2).is_some_and(|r| r.ends_with(":0000"));
            if f.len() < 10 || f[3] != listen_state || !unconnected {
                continue;
            }
            let (Some(addr), Ok(inode)) = (hex_addr(f[1]), f[9].parse()) else { continue };
            let endpoint = if datagram { Endpoint::Udp(addr) } else { Endpoint::Tcp(addr) };
            found.push(Bound { endpoint, inode });
        }
    }
    Some(found)
}

/// `0100007F:1F90` (an IPv4 address as a little-endian word) or 32 hex digits (IPv6, four such
/// words), then the port.
fn hex_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| ip.get(i * 8..i * 8 + 8).and_then(|w| u32::from_str_radix(w, 16).ok()))
        .collect::<Option<_>>()?;
    let ip: IpAddr = match words[..] {
        [w] => Ipv4Addr::from(w.to_le_bytes()).into(),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            Ipv6Addr::from(bytes).into()
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Unix sockets from `/proc/net/unix` (`Num RefCount Protocol Flags Type St Inode Path`): stream
/// listeners (flag `00010000`, `__SO_ACCEPTCON`) or bound datagram sockets (type `0002`).
fn unix_table(datagram: bool) -> Option<Vec<Bound>> {
    let text = std::fs::read_to_string("/proc/net/unix").ok()?;
    let (flags, kind) = if datagram { ("00000000", "0002") } else { ("00010000", "0001") };
    let mut found = vec![];
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[3] != flags || f[4] != kind {
            continue;
        }
        let Ok(inode) = f[6].parse() else { continue };
        let path = f[7..].join(" ");
        let endpoint = match (path.strip_prefix('@'), datagram) {
            (Some(name), false) => Endpoint::Abstract(name.as_bytes().to_vec()),
            (Some(name), true) => Endpoint::AbstractDgram(name.as_bytes().to_vec()),
            (None, false) => Endpoint::Unix(PathBuf::from(path)),
            (None, true) => Endpoint::UnixDgram(PathBuf::from(path)),
        };
        found.push(Bound { endpoint, inode });
    }
    Some(found)
}

/// Every listening TCP socket, from a netlink dump of both families.
fn tcp_dump() -> io::Result<Vec<Bound>> {
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    socket2::SockRef::from(&socket).set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut found = vec![];
    for (family, id) in [(AF_INET, SocketId::new_v4()), (AF_INET6, SocketId::new_v6())] {
        dump_family(&socket, family, id, &mut |addr, inode| {
            found.push(Bound { endpoint: Endpoint::Tcp(addr), inode });
            false
        })?;
    }
    Ok(found)
}

/// Whether a TCP socket listens where a connect to `addr` would reach it: on its port, at its
/// address or a wildcard one (`0.0.0.0`, `::`, or the IPv4-mapped address); an error when the
/// kernel cannot be asked this way (then read `/proc/net/tcp`).
pub fn tcp_listens(addr: SocketAddr) -> io::Result<bool> {
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    // The kernel answers a dump at once; the deadline only stops a broken netlink from hanging us.
    socket2::SockRef::from(&socket).set_read_timeout(Some(Duration::from_secs(1)))?;
    for (family, id) in [(AF_INET, SocketId::new_v4()), (AF_INET6, SocketId::new_v6())] {
        let mut reached = |bound: SocketAddr, _| bound.port() == addr.port() && reaches(bound.ip(), addr.ip());
        if dump_family(&socket, family, id, &mut reached)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Dump the listening TCP sockets of one family, calling `each` with each one's address and
/// inode; whether `each` said yes to any.
fn dump_family(
    socket: &Socket,
    family: u8,
    socket_id: SocketId,
    each: &mut dyn FnMut(SocketAddr, u64) -> bool,
) -> io::Result<bool> {
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
                    found |= each(SocketAddr::new(id.source_address, id.source_port), r.header.inode.into());
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
    fn every_transport_is_read_from_one_table_reader() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_at = Endpoint::Tcp(tcp.local_addr().unwrap());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_at = Endpoint::Udp(udp.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let dgram_path = dir.path().join("d.sock");
        let dgram = std::os::unix::net::UnixDatagram::bind(&dgram_path).unwrap();
        let unix_at = Endpoint::Unix(path.clone());
        let dgram_at = Endpoint::UnixDgram(dgram_path);
        for at in [&tcp_at, &udp_at, &unix_at, &dgram_at] {
            assert_eq!(listening(at), Some(true), "{at}");
        }
        // Not the stream listener's path as a datagram socket, nor another port.
        assert_eq!(listening(&Endpoint::UnixDgram(path)), Some(false));
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert_eq!(listening(&Endpoint::Tcp(free)), Some(false));
        let here = where_listens(std::process::id());
        for at in [&tcp_at, &udp_at, &unix_at, &dgram_at] {
            assert!(here.contains(at), "{at} in {here:?}");
        }
        drop((tcp, udp, unix, dgram));
    }

    #[test]
    fn the_proc_tables_hex_addresses_are_read() {
        assert_eq!(hex_addr("0100007F:1F90"), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(hex_addr("00000000000000000000000001000000:0050"), Some("[::1]:80".parse().unwrap()));
        assert_eq!(hex_addr("zz:1"), None);
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
