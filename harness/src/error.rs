//! The library's one error type.

use std::io;
use std::path::PathBuf;

/// A result whose error is sockcheck's [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in sockcheck itself: a bad address or argument, or a socket that cannot be
/// bound or connected. A program under test that misbehaves is a failed scenario, not an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An address that does not parse or does not resolve.
    #[error("invalid address `{input}`: {reason}")]
    BadAddress {
        /// The address as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A Unix socket path (or abstract name) longer than `sun_path` holds.
    #[error("unix socket path `{}` is {len} bytes; the limit here is {max} (sun_path)", path.display())]
    PathTooLong {
        /// The path as given.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The longest path this system's `sun_path` takes.
        max: usize,
    },

    /// Something already listens at the address (a live Unix socket answers, or the port is taken).
    #[error("{addr}: address in use")]
    AddrInUse {
        /// The address, as an endpoint reads.
        addr: String,
    },

    /// A file that is not a socket holds a Unix socket's path: it is never removed.
    #[error("`{}` exists and is a {kind}, not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// The socket's path.
        path: PathBuf,
        /// What the file is (`regular file`, `directory`, ...).
        kind: &'static str,
    },

    /// Binding (or preparing to bind) a listening or datagram socket failed.
    #[error("cannot bind {addr}: {reason}")]
    Bind {
        /// The address, as an endpoint reads.
        addr: String,
        /// The system's error.
        reason: io::Error,
    },

    /// A connect to the address failed (refused, timed out, ...).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address, as an endpoint reads.
        addr: String,
        /// The system's error.
        reason: io::Error,
    },

    /// A command line or option that cannot be acted on; the message says what to give instead.
    #[error("{0}")]
    Usage(String),

    /// A report could not be written.
    #[error("cannot write {}: {reason}", path.as_ref().map_or("to standard output".into(), |p| p.display().to_string()))]
    Write {
        /// The file (`None`: standard output).
        path: Option<PathBuf>,
        /// The system's error.
        reason: io::Error,
    },

    /// Any other I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// A report could not be written to `path` (`None`: standard output).
    pub fn write(path: Option<&std::path::Path>, reason: io::Error) -> Self {
        Error::Write { path: path.map(PathBuf::from), reason }
    }

    /// Exit status for the CLI: 2 for bad input, 1 for failures at run time.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadAddress { .. } | Error::PathTooLong { .. } | Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
