//! The library's one error type.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid address `{input}`: {reason}")]
    BadAddress { input: String, reason: String },

    #[error("unix socket path `{}` is {len} bytes; the limit here is {max} (sun_path)", path.display())]
    PathTooLong { path: PathBuf, len: usize, max: usize },

    #[error("{addr}: address in use")]
    AddrInUse { addr: String },

    #[error("`{}` exists and is a {kind}, not a socket; refusing to replace it", path.display())]
    NotASocket { path: PathBuf, kind: &'static str },

    #[error("cannot bind {addr}: {reason}")]
    Bind { addr: String, reason: io::Error },

    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: io::Error },

    #[error("{0}")]
    Usage(String),

    /// A report could not be written: `path` names the file (`None`: standard output).
    #[error("cannot write {}: {reason}", path.as_ref().map_or("to standard output".into(), |p| p.display().to_string()))]
    Write { path: Option<PathBuf>, reason: io::Error },

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
