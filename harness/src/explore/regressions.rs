//! The regressions file: the cases explore found and shrank, replayed first by the next `explore`
//! and by `check --replay` (like proptest's `*.proptest-regressions`, but holding the cases
//! themselves rather than seeds, so a change to the generator does not change what is replayed).
//!
//! One JSON object per line; lines starting with `#` are comments.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::case::Case;
use crate::facts::Cause;
use crate::scenario::client::ClientScenario;
use crate::scenario::{Mode, Scenario};
use crate::Transport;

/// The file's name when `--regressions` does not give one: in the working directory.
pub const DEFAULT_FILE: &str = "sockcheck-explore.regressions";

const HEADER: &str = "# Cases `sockcheck explore` found and shrank: replayed first by the next explore, and run by\n\
# `sockcheck check --replay FILE` (servers) or `sockcheck check-client --replay FILE` (clients).\n\
# One case per line, as JSON. Keep this file with the program it was found on.\n";

/// One found case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its scenario name, `explore_` and a hash of the case.
    pub name: String,
    /// The cause it failed with when found.
    pub cause: Cause,
    /// The transport it was found over.
    pub transport: String,
    /// The server's model when found (decides whether connections take turns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The case.
    pub case: Case,
}

impl Entry {
    /// The transport it was found over, if it names one.
    pub fn transport(&self) -> Option<Transport> {
        self.transport.parse().ok()
    }

    /// The server model it was found with.
    pub fn model(&self) -> Option<Mode> {
        self.model.as_deref().and_then(|m| m.parse().ok())
    }

    /// Whether it was found on a client (or else on a server).
    pub fn is_client(&self) -> bool {
        self.case.is_client()
    }

    /// Whether it is a datagram case (server or client).
    pub fn is_datagram(&self) -> bool {
        self.transport().is_some_and(|t| t.is_datagram())
    }

    /// A server case as a scenario.
    pub fn scenario(&self) -> Scenario {
        self.case.scenario(&self.name, self.model())
    }

    /// A client case as a client scenario.
    pub fn client_scenario(&self) -> ClientScenario {
        self.case.client_scenario(&self.name, self.is_datagram())
    }
}

/// The entries of `path`; none when it does not exist. A line that is not an entry is an error
/// naming the file and the line.
pub fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut entries = vec![];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry: Entry = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not a sockcheck explore case: {e}", path.display(), i + 1))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Add `entry` to `path` (created with its header) unless a case of that name is there.
pub fn save(path: &Path, entry: &Entry) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if load(path)?.iter().any(|e| e.name == entry.name) {
        return Ok(());
    }
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(cannot)?;
    let line = serde_json::to_string(entry).map_err(|e| e.to_string())?;
    let text = if new { format!("{HEADER}{line}\n") } else { format!("{line}\n") };
    f.write_all(text.as_bytes()).map_err(cannot)
}

/// `--regressions` or the default file in the working directory.
pub fn path_or_default(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| PathBuf::from(DEFAULT_FILE), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::case::{Conn, ConnEnd, Msg, Piece, StreamOp};

    #[test]
    fn saved_cases_load_back_once_each_and_bad_lines_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.regressions");
        assert_eq!(load(&path).unwrap(), vec![]);
        let case = Case::Stream {
            conns: vec![Conn {
                ops: vec![StreamOp::Echo(Msg(vec![Piece::Bytes(b" \x00".to_vec())]))],
                end: ConnEnd::Open,
            }],
            interleave: false,
        };
        let entry = Entry {
            name: case.id(),
            cause: Cause::NoReply,
            transport: "tcp".into(),
            model: Some("sequential".into()),
            case,
        };
        save(&path, &entry).unwrap();
        save(&path, &entry).unwrap();
        assert_eq!(load(&path).unwrap(), vec![entry.clone()]);
        assert_eq!(entry.model(), Some(Mode::Sequential));
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("# Cases"));
        std::fs::write(&path, "# c\n{\"name\": 1}\n").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.contains("x.regressions:2:"), "{err}");
    }
}
