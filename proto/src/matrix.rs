//! The two axes every scenario runs over: the transport and the server's serving mode (the
//! catalogue names a run `<scenario>::<transport>::<mode>`). Plain enums, here so that crates
//! which only describe checks need not depend on the harness that runs them.

use std::fmt;

/// The transports a scenario runs over: two stream ones and two datagram ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Unix,
    /// `SOCK_DGRAM` over IPv4/IPv6.
    Udp,
    /// `AF_UNIX` `SOCK_DGRAM` on a socket file.
    UnixDgram,
}

impl Transport {
    /// The stream transports (what "both transports" has always meant).
    pub const ALL: [Transport; 2] = [Transport::Tcp, Transport::Unix];
    /// The datagram transports.
    pub const DATAGRAM: [Transport; 2] = [Transport::Udp, Transport::UnixDgram];
    /// Every transport.
    pub const EVERY: [Transport; 4] = [Transport::Tcp, Transport::Unix, Transport::Udp, Transport::UnixDgram];

    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
            Transport::Udp => "udp",
            Transport::UnixDgram => "unix-dgram",
        }
    }

    /// `SOCK_DGRAM`: messages keep their boundaries, nothing connects.
    pub fn is_datagram(self) -> bool {
        matches!(self, Transport::Udp | Transport::UnixDgram)
    }

    /// A socket file (`unix` or `unix-dgram`).
    pub fn is_unix(self) -> bool {
        matches!(self, Transport::Unix | Transport::UnixDgram)
    }

    /// `tcp,unix,udp,unix-dgram` (any of them, comma-separated) or `all`.
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
        match s {
            "tcp" => Ok(Transport::Tcp),
            "unix" => Ok(Transport::Unix),
            "udp" => Ok(Transport::Udp),
            "unix-dgram" => Ok(Transport::UnixDgram),
            other => Err(format!("unknown transport `{other}` (expected `tcp`, `unix`, `udp` or `unix-dgram`)")),
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
            "unknown transport `sctp` (expected `tcp`, `unix`, `udp` or `unix-dgram`)"
        );
        assert_eq!(Transport::parse_list("udp, unix-dgram,udp").unwrap(), Transport::DATAGRAM.to_vec());
        assert_eq!(Transport::parse_list("all").unwrap(), Transport::EVERY.to_vec());
        assert!(Transport::parse_list("tcp,x").is_err());
        assert!("threaded".parse::<Mode>().unwrap_err().contains("expected `sequential` or `concurrent`"));
    }
}
