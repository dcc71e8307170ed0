//! A small uppercase-echo server on tokio: every connection gets a task that reads and sends each
//! read back uppercased, until the client hangs up. Its `cargo test` runs sockcheck's catalogue
//! against it (`tests/conformance.rs`), and `tests/bugs.rs` shows the catalogue catching a bug.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A deliberate bug, to see the catalogue catch it (`ECHO_BUG=no-upper`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Correct: replies are the uppercase of what came.
    None,
    /// Replies are what came, unchanged.
    NoUpper,
}

impl Bug {
    /// The bug named by the `ECHO_BUG` environment variable (`no-upper`), or none.
    pub fn from_env() -> Result<Bug, String> {
        match std::env::var("ECHO_BUG").as_deref() {
            Err(_) | Ok("") => Ok(Bug::None),
            Ok("no-upper") => Ok(Bug::NoUpper),
            Ok(other) => Err(format!("ECHO_BUG={other}: the bugs are: no-upper")),
        }
    }
}

/// Serve `listener` until accepting fails: a task per connection.
pub async fn serve(listener: TcpListener, bug: Bug) -> std::io::Result<()> {
    loop {
        let (conn, _) = listener.accept().await?;
        tokio::spawn(echo(conn, bug));
    }
}

/// One connection: read, uppercase, write it all, until end of file or an error (a client that
/// resets ends only its own connection).
async fn echo(mut conn: TcpStream, bug: Bug) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if bug != Bug::NoUpper {
            buf[..n].make_ascii_uppercase();
        }
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
