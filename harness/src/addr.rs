//! Addresses: `HOST:PORT` / `tcp://HOST:PORT` for TCP, `PATH` / `unix:PATH` for Unix sockets and
//! `@NAME` / `unix:@NAME` for Linux's abstract namespace.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The transports a scenario runs over, streams and datagrams (defined in `sockcheck-proto`, which
/// needs no harness).
pub use sockcheck_proto::Transport;

/// Where a server listens or a client connects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address, `HOST:PORT` (IPv4 or IPv6 loopback).
    Tcp(SocketAddr),
    /// A Unix socket file.
    Unix(PathBuf),
    /// A Linux abstract-namespace Unix socket (`@name`): no file, gone when the listener closes.
    Abstract(Vec<u8>),
    /// A UDP address (`udp://HOST:PORT`).
    Udp(SocketAddr),
    /// An `AF_UNIX` `SOCK_DGRAM` socket file (`unix-dgram:PATH`).
    UnixDgram(PathBuf),
    /// A Linux abstract-namespace Unix datagram socket (`unix-dgram:@NAME`).
    AbstractDgram(Vec<u8>),
}

/// The longest Unix socket path the platform takes (`sizeof(sun_path) - 1` for the NUL).
pub const fn max_unix_path() -> usize {
    // sockaddr_un.sun_path is 108 bytes on Linux, 104 on the BSDs and macOS.
    if cfg!(target_os = "linux") {
        107
    } else {
        103
    }
}

impl Endpoint {
    /// The transport it is an address of.
    pub fn transport(&self) -> Transport {
        match self {
            Endpoint::Tcp(a) if a.is_ipv6() => Transport::Tcp6,
            Endpoint::Tcp(_) => Transport::Tcp,
            Endpoint::Unix(_) => Transport::Unix,
            Endpoint::Abstract(_) => Transport::Abstract,
            Endpoint::Udp(a) if a.is_ipv6() => Transport::Udp6,
            Endpoint::Udp(_) => Transport::Udp,
            Endpoint::UnixDgram(_) => Transport::UnixDgram,
            Endpoint::AbstractDgram(_) => Transport::AbstractDgram,
        }
    }

    /// A UDP address, `HOST:PORT`, with or without `udp://`.
    pub fn parse_udp(input: &str) -> Result<Endpoint> {
        match Endpoint::parse_tcp(input.strip_prefix("udp://").unwrap_or(input))? {
            Endpoint::Tcp(a) => Ok(Endpoint::Udp(a)),
            _ => unreachable!("parse_tcp gives TCP endpoints"),
        }
    }

    /// A Unix datagram socket path (with or without `unix-dgram:`), or `@name` for the abstract namespace.
    pub fn parse_unix_dgram(input: &str) -> Result<Endpoint> {
        let s = input.strip_prefix("unix-dgram:").unwrap_or(input);
        match Endpoint::parse_unix(s).map_err(|e| match e {
            Error::BadAddress { reason, .. } => Error::BadAddress { input: input.to_string(), reason },
            other => other,
        })? {
            Endpoint::Unix(p) => Ok(Endpoint::UnixDgram(p)),
            Endpoint::Abstract(n) => Ok(Endpoint::AbstractDgram(n)),
            _ => unreachable!("parse_unix gives Unix endpoints"),
        }
    }

    /// A TCP address, `HOST:PORT`, with or without `tcp://`. IPv6 hosts go in brackets.
    pub fn parse_tcp(input: &str) -> Result<Endpoint> {
        let bad = |reason: &str| Error::BadAddress { input: input.to_string(), reason: reason.to_string() };
        let s = input.strip_prefix("tcp://").unwrap_or(input);
        if s.is_empty() {
            return Err(bad("empty address"));
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Endpoint::Tcp(addr));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(bad("expected HOST:PORT, e.g. 127.0.0.1:8080"));
        };
        if host.contains(':') && !host.starts_with('[') {
            return Err(bad("IPv6 addresses go in brackets, e.g. [::1]:8080"));
        }
        if host.is_empty() {
            return Err(bad("missing host, e.g. 127.0.0.1:8080"));
        }
        let port: u16 = match port.parse::<u64>() {
            Ok(p) if p <= u16::MAX as u64 => p as u16,
            Ok(_) => return Err(bad("port out of range (0-65535)")),
            Err(_) => return Err(bad("port is not a number")),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match (host, port).to_socket_addrs() {
            Ok(mut addrs) => addrs.next().map(Endpoint::Tcp).ok_or_else(|| bad("host has no address")),
            Err(e) => Err(bad(&format!("cannot resolve host: {e}"))),
        }
    }

    /// A Unix socket path (with or without `unix:`), or `@name` for the abstract namespace.
    pub fn parse_unix(input: &str) -> Result<Endpoint> {
        let s = input.strip_prefix("unix:").unwrap_or(input);
        if s.is_empty() {
            return Err(Error::BadAddress { input: input.to_string(), reason: "empty path".into() });
        }
        if let Some(name) = s.strip_prefix('@') {
            if !cfg!(any(target_os = "linux", target_os = "android")) {
                return Err(Error::BadAddress {
                    input: input.to_string(),
                    reason: "abstract socket names (@name) exist only on Linux".into(),
                });
            }
            if name.len() > max_unix_path() {
                return Err(Error::PathTooLong { path: s.into(), len: name.len(), max: max_unix_path() });
            }
            return Ok(Endpoint::Abstract(name.as_bytes().to_vec()));
        }
        if s.contains('\0') {
            return Err(Error::BadAddress { input: input.to_string(), reason: "path contains a NUL byte".into() });
        }
        let path = PathBuf::from(s);
        check_unix_path(&path)?;
        Ok(Endpoint::Unix(path))
    }

    /// `tcp://HOST:PORT`, `unix:PATH`, `unix:@NAME`, or a bare `HOST:PORT` / path (a `/` or `.` makes it a path).
    pub fn parse(input: &str) -> Result<Endpoint> {
        if input.starts_with("udp://") {
            Endpoint::parse_udp(input)
        } else if input.starts_with("unix-dgram:") {
            Endpoint::parse_unix_dgram(input)
        } else if input.starts_with("tcp://") {
            Endpoint::parse_tcp(input)
        } else if input.starts_with("unix:")
            || input.starts_with('@')
            || input.starts_with('/')
            || input.starts_with('.')
        {
            Endpoint::parse_unix(input)
        } else {
            Endpoint::parse_tcp(input)
        }
    }

    /// The socket file of a Unix endpoint (none for TCP, UDP and abstract names).
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Endpoint::Unix(p) | Endpoint::UnixDgram(p) => Some(p),
            _ => None,
        }
    }
}

/// Reject Unix socket paths the kernel would refuse, naming the limit.
pub fn check_unix_path(path: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let len = path.as_os_str().as_bytes().len();
    if len > max_unix_path() {
        return Err(Error::PathTooLong { path: path.to_path_buf(), len, max: max_unix_path() });
    }
    Ok(())
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Abstract(n) => write!(f, "unix:@{}", String::from_utf8_lossy(n)),
            Endpoint::Udp(a) => write!(f, "udp://{a}"),
            Endpoint::UnixDgram(p) => write!(f, "unix-dgram:{}", p.display()),
            Endpoint::AbstractDgram(n) => write!(f, "unix-dgram:@{}", String::from_utf8_lossy(n)),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Endpoint::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_people_type() {
        assert_eq!(Endpoint::parse("127.0.0.1:8080").unwrap(), Endpoint::Tcp("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(Endpoint::parse("tcp://[::1]:9").unwrap(), Endpoint::Tcp("[::1]:9".parse().unwrap()));
        assert!(matches!(Endpoint::parse("localhost:0").unwrap(), Endpoint::Tcp(a) if a.ip().is_loopback()));
        assert_eq!(Endpoint::parse("unix:/tmp/x.sock").unwrap(), Endpoint::Unix("/tmp/x.sock".into()));
        assert_eq!(Endpoint::parse("./x.sock").unwrap(), Endpoint::Unix("./x.sock".into()));
        assert_eq!(Endpoint::parse("@echo").unwrap(), Endpoint::Abstract(b"echo".to_vec()));
        assert_eq!(Endpoint::parse("unix:@echo").unwrap().to_string(), "unix:@echo");
        assert_eq!(Endpoint::parse("udp://127.0.0.1:9").unwrap(), Endpoint::Udp("127.0.0.1:9".parse().unwrap()));
        assert_eq!(Endpoint::parse("unix-dgram:/tmp/d").unwrap().to_string(), "unix-dgram:/tmp/d");
        assert_eq!(Endpoint::parse("unix-dgram:@d").unwrap(), Endpoint::AbstractDgram(b"d".to_vec()));
        assert_eq!(Endpoint::parse("unix-dgram:@d").unwrap().to_string(), "unix-dgram:@d");
        assert_eq!(Endpoint::parse("tcp://[::1]:9").unwrap().transport(), Transport::Tcp6);
        assert_eq!(Endpoint::parse("udp://[::1]:9").unwrap().transport(), Transport::Udp6);
        assert_eq!(Endpoint::parse("@echo").unwrap().transport(), Transport::Abstract);
    }

    #[test]
    fn rejects_bad_addresses_with_a_reason() {
        let msg = |s: &str| Endpoint::parse(s).unwrap_err().to_string();
        assert!(msg("::1:8080").contains("brackets"), "{}", msg("::1:8080"));
        assert!(msg("127.0.0.1:70000").contains("out of range"));
        assert!(msg("127.0.0.1:http").contains("not a number"));
        assert!(msg("127.0.0.1").contains("HOST:PORT"));
        assert!(msg(":80").contains("missing host"));
        assert!(msg("").contains("empty"));
        let long = format!("/tmp/{}", "x".repeat(200));
        assert!(msg(&long).contains("limit here is 107"), "{}", msg(&long));
    }
}
