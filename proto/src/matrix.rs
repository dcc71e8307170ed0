//! The two axes every scenario runs over: the transport and the server's serving mode (the
//! catalogue names a run `<scenario>::<transport>::<mode>`). Plain enums, here so that crates
//! which only describe checks need not depend on the harness that runs them.

use std::fmt;

/// The two transports a scenario runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Unix,
}

impl Transport {
    pub const ALL: [Transport; 2] = [Transport::Tcp, Transport::Unix];

    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        }
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
            other => Err(format!("unknown transport `{other}` (expected `tcp` or `unix`)")),
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
        for t in Transport::ALL {
            assert_eq!(t.to_string().parse::<Transport>(), Ok(t));
        }
        for m in [Mode::Sequential, Mode::Concurrent] {
            assert_eq!(m.to_string().parse::<Mode>(), Ok(m));
        }
        assert_eq!("udp".parse::<Transport>().unwrap_err(), "unknown transport `udp` (expected `tcp` or `unix`)");
        assert!("threaded".parse::<Mode>().unwrap_err().contains("expected `sequential` or `concurrent`"));
    }
}
