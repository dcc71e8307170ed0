//! The two axes every scenario runs over: the transport and the server's serving mode (the
//! catalogue names a run `<scenario>::<transport>::<mode>`). Plain enums, here so that crates
//! which only describe checks need not depend on the harness that runs them.

use std::fmt;

/// The transports a scenario runs over: the socket type (stream or datagram) and the family
/// (IPv4, IPv6, a Unix socket file, a Linux abstract name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// `SOCK_STREAM` over IPv4.
    Tcp,
    /// `SOCK_STREAM` on a Unix socket file.
    Unix,
    /// `SOCK_DGRAM` over IPv4.
    Udp,
    /// `AF_UNIX` `SOCK_DGRAM` on a socket file.
    UnixDgram,
    /// TCP over IPv6 loopback (`[::1]`, the tutorial's `AF_INET6`).
    Tcp6,
    /// UDP over IPv6 loopback.
    Udp6,
    /// A Unix stream socket in Linux's abstract namespace (`@name`: no file).
    Abstract,
    /// A Unix datagram socket in Linux's abstract namespace.
    AbstractDgram,
}

impl Transport {
    /// The stream transports (what "both transports" has always meant).
    pub const ALL: [Transport; 2] = [Transport::Tcp, Transport::Unix];
    /// The datagram transports.
    pub const DATAGRAM: [Transport; 2] = [Transport::Udp, Transport::UnixDgram];
    /// What `check` runs by default: the tutorial's two socket types over IPv4 and socket files.
    pub const DEFAULT: [Transport; 4] = [Transport::Tcp, Transport::Unix, Transport::Udp, Transport::UnixDgram];
    /// Every transport (`--transport all`): the default ones, then IPv6 and abstract names.
    pub const EVERY: [Transport; 8] = [
        Transport::Tcp,
        Transport::Unix,
        Transport::Udp,
        Transport::UnixDgram,
        Transport::Tcp6,
        Transport::Udp6,
        Transport::Abstract,
        Transport::AbstractDgram,
    ];

    /// The name on the command line and in test names: `tcp`, `unix`, `udp`, `unix-dgram`, ...
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
            Transport::Udp => "udp",
            Transport::UnixDgram => "unix-dgram",
            Transport::Tcp6 => "tcp6",
            Transport::Udp6 => "udp6",
            Transport::Abstract => "abstract",
            Transport::AbstractDgram => "abstract-dgram",
        }
    }

    /// The default transport of the same socket type and kind of address: `tcp6` is `tcp`,
    /// `abstract` is `unix`. What is said of a socket type is said of its base.
    pub fn base(self) -> Transport {
        match self {
            Transport::Tcp6 => Transport::Tcp,
            Transport::Udp6 => Transport::Udp,
            Transport::Abstract => Transport::Unix,
            Transport::AbstractDgram => Transport::UnixDgram,
            t => t,
        }
    }

    /// `SOCK_DGRAM`: messages keep their boundaries, nothing connects.
    pub fn is_datagram(self) -> bool {
        matches!(self.base(), Transport::Udp | Transport::UnixDgram)
    }

    /// `AF_UNIX`, on a socket file or an abstract name.
    pub fn is_unix(self) -> bool {
        matches!(self.base(), Transport::Unix | Transport::UnixDgram)
    }

    /// A socket file on disk (`unix` or `unix-dgram`): what the socket-file scenarios need.
    pub fn has_socket_file(self) -> bool {
        matches!(self, Transport::Unix | Transport::UnixDgram)
    }

    /// `tcp,unix,udp,unix-dgram,tcp6,udp6,abstract,abstract-dgram` (any of them, comma-separated) or `all`.
    pub fn parse_list(s: &str) -> Result<Vec<Transport>, String> {
        if s == "all" {
            return Ok(Transport::EVERY.to_vec());
        }
        let mut out: Vec<Transport> = vec![];
        for part in s.split(',').map(str::trim) {
            let t: Transport = part.parse()?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match Transport::EVERY.into_iter().find(|t| t.name() == s) {
            Some(t) => Ok(t),
            None => Err(format!(
                "unknown transport `{s}` (expected `all` or a list of: {})",
                Transport::EVERY.map(Transport::name).join(", ")
            )),
        }
    }
}

/// How the reference server serves connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One client at a time, like the tutorial.
    #[default]
    Sequential,
    /// Every client at once.
    Concurrent,
}

impl Mode {
    /// `sequential` or `concurrent`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Concurrent => "concurrent",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sequential" => Ok(Mode::Sequential),
            "concurrent" => Ok(Mode::Concurrent),
            other => Err(format!("unknown mode `{other}` (expected `sequential` or `concurrent`)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_strangers_are_refused_with_the_choices() {
        for t in Transport::EVERY {
            assert_eq!(t.to_string().parse::<Transport>(), Ok(t));
        }
        for m in [Mode::Sequential, Mode::Concurrent] {
            assert_eq!(m.to_string().parse::<Mode>(), Ok(m));
        }
        assert_eq!(
            "sctp".parse::<Transport>().unwrap_err(),
            "unknown transport `sctp` (expected `all` or a list of: tcp, unix, udp, unix-dgram, tcp6, udp6, \
             abstract, abstract-dgram)"
        );
        for t in Transport::EVERY {
            assert_eq!(t.base().is_datagram(), t.is_datagram(), "{t}");
            assert_eq!(t.base().is_unix(), t.is_unix(), "{t}");
            assert!(!t.has_socket_file() || t == t.base(), "{t}");
        }
        assert_eq!(Transport::Tcp6.base(), Transport::Tcp);
        assert!(Transport::AbstractDgram.is_datagram() && Transport::AbstractDgram.is_unix());
        assert!(!Transport::Abstract.has_socket_file());
        assert_eq!(Transport::parse_list("udp, unix-dgram,udp").unwrap(), Transport::DATAGRAM.to_vec());
        assert_eq!(Transport::parse_list("all").unwrap(), Transport::EVERY.to_vec());
        assert!(Transport::parse_list("tcp,x").is_err());
        assert!("threaded".parse::<Mode>().unwrap_err().contains("expected `sequential` or `concurrent`"));
    }

    #[test]
    fn each_transport_is_a_datagram_one_a_unix_one_and_on_a_socket_file_as_its_name_says() {
        use Transport::*;
        let table = [
            // (transport, datagram, unix, socket file)
            (Tcp, false, false, false),
            (Unix, false, true, true),
            (Udp, true, false, false),
            (UnixDgram, true, true, true),
            (Tcp6, false, false, false),
            (Udp6, true, false, false),
            (Abstract, false, true, false),
            (AbstractDgram, true, true, false),
        ];
        assert_eq!(table.map(|row| row.0), Transport::EVERY);
        for (t, datagram, unix, file) in table {
            assert_eq!((t.is_datagram(), t.is_unix(), t.has_socket_file()), (datagram, unix, file), "{t}");
        }
    }
}
