//! Command templates with placeholders: how a program under test is told where to listen or
//! connect.
//!
//! A command is run through `sh -c` after its placeholders are filled in:
//! `{host}` and `{port}` (a free loopback port), `{addr}` (`host:port`), `{path}` (a fresh Unix
//! socket path in a temp dir). `{{` and `}}` stand for literal braces. Which placeholders a
//! command uses tells the transport: `{port}`/`{addr}`/`{host}` mean TCP, `{path}` a Unix socket.

use std::path::PathBuf;

use crate::addr::{Endpoint, Transport};
use crate::error::{Error, Result};

/// The values placeholders are replaced with.
#[derive(Clone, Debug)]
pub struct Placeholders {
    /// `{host}`: the loopback address (`127.0.0.1`, or `::1` over IPv6).
    pub host: String,
    /// `{port}`: a free port.
    pub port: u16,
    /// `{path}`: a fresh Unix socket path in a temp dir.
    pub path: PathBuf,
}

const KNOWN: &str = "{host}, {port}, {addr}, {path}";

/// The placeholders used in `template`, checked: unknown ones and unbalanced braces are errors.
fn placeholders_in(template: &str) -> Result<Vec<&str>> {
    let bad = |why: String| Error::Usage(format!("command `{template}`: {why}"));
    let mut found = vec![];
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(bad("a lone `}` (write `}}` for a literal brace)".into()));
        }
        let Some(end) = tail.find('}') else {
            return Err(bad("a `{` without its `}` (write `{{` for a literal brace)".into()));
        };
        let name = &tail[1..end];
        match name {
            "host" | "port" | "addr" | "path" => found.push(name),
            _ => return Err(bad(format!("unknown placeholder `{{{name}}}` (known: {KNOWN})"))),
        }
        rest = &tail[end + 1..];
    }
    Ok(found)
}

/// The transport a command template asks for; `explicit` (from `--transport`) wins.
pub fn transport_of(template: &str, explicit: Option<Transport>) -> Result<Transport> {
    if template.trim().is_empty() {
        return Err(Error::Usage("the command is empty".into()));
    }
    let used = placeholders_in(template)?;
    let tcp = used.iter().any(|p| matches!(*p, "host" | "port" | "addr"));
    let unix = used.contains(&"path");
    match (explicit, tcp, unix) {
        (Some(t), _, _) => Ok(t),
        (None, true, false) => Ok(Transport::Tcp),
        (None, false, true) => Ok(Transport::Unix),
        (None, true, true) => Err(Error::Usage(format!(
            "command `{template}` uses both TCP and Unix placeholders; say which with --transport tcp|unix"
        ))),
        (None, false, false) => Err(Error::Usage(format!(
            "command `{template}` does not say where to listen: put {{port}}, {{addr}} or {{path}} in it"
        ))),
    }
}

/// A word for a POSIX shell: as it is when it is plain, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@=,+".contains(&b)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Fill in the placeholders.
pub fn expand(template: &str, values: &Placeholders) -> Result<String> {
    placeholders_in(template)?;
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else {
            let end = tail.find('}').expect("checked by placeholders_in");
            match &tail[1..end] {
                "host" => out.push_str(&values.host),
                "port" => out.push_str(&values.port.to_string()),
                "addr" => out.push_str(&values.addr()),
                "path" => out.push_str(&quote_for(&out, &values.path.to_string_lossy())),
                _ => unreachable!("checked by placeholders_in"),
            }
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` as a shell word where it goes, after `before`: `sh -c` must see one word whatever the
/// value holds (a TMPDIR with a space in it), also where the user already quoted the placeholder.
fn quote_for(before: &str, value: &str) -> String {
    // Which quotes are open at the end of `before`: none, '...' or "..." (backslash escapes
    // outside single quotes).
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in before.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
    }
    if single {
        value.replace('\'', r"'\''")
    } else if double {
        value.chars().fold(String::new(), |mut s, c| {
            if matches!(c, '"' | '\\' | '$' | '`') {
                s.push('\\');
            }
            s.push(c);
            s
        })
    } else {
        shell_quote(value)
    }
}

/// A loopback port that was free a moment ago (bind port 0, read it, close).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A free loopback port *outside* the kernel's ephemeral range, for programs sockcheck starts and
/// restarts. A port from the ephemeral range (what [`free_port`] gives) can be handed to one of
/// sockcheck's own outgoing connections while the program is down, and a connect to a port nobody
/// listens on can even connect to itself (TCP self-connect): both seen with readiness probes.
pub fn free_port_for_spawn() -> std::io::Result<u16> {
    let (lo, _) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>());
            Some((it.next()?.ok()?, it.next()?.ok()?))
        })
        .unwrap_or((32768, 60999));
    let (from, to) = if lo > 11_000 { (10_000u32, u32::from(lo)) } else { (u32::from(lo) / 2, u32::from(lo)) };
    if to <= from + 100 {
        return free_port();
    }
    // A start that differs between processes and calls, then a walk with a stride coprime to 2.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()),
        )
        .wrapping_add(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed).wrapping_mul(7919));
    let span = to - from;
    // A port is free from the time it is picked until the program binds it (a Python program takes
    // tens of milliseconds to get there): not handed out again meanwhile to another scenario of this
    // process running at the same time (`--jobs`), which would then check the other's server.
    static RECENT: std::sync::Mutex<std::collections::VecDeque<u16>> =
        std::sync::Mutex::new(std::collections::VecDeque::new());
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    for i in 0..200u32 {
        let port = (from + (seed.wrapping_add(i.wrapping_mul(4099)) % span)) as u16;
        // Free for TCP and UDP alike: the same value serves `--transport udp`.
        if !recent.contains(&port)
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            if recent.len() >= 256 {
                recent.pop_front();
            }
            recent.push_back(port);
            return Ok(port);
        }
    }
    free_port()
}

impl Placeholders {
    /// The endpoint a program started with these values listens on, for this transport.
    pub fn endpoint(&self, transport: Transport) -> Result<Endpoint> {
        match transport {
            Transport::Tcp | Transport::Tcp6 => Endpoint::parse_tcp(&self.addr()),
            Transport::Unix => Ok(Endpoint::Unix(self.path.clone())),
            Transport::Udp | Transport::Udp6 => Endpoint::parse_udp(&self.addr()),
            Transport::UnixDgram => Ok(Endpoint::UnixDgram(self.path.clone())),
            Transport::Abstract | Transport::AbstractDgram => Err(Error::Usage(format!(
                "a program cannot be told an abstract name ({{path}} is a file path): use --transport {} instead of {transport}",
                transport.base()
            ))),
        }
    }

    /// The host for a transport's loopback: `::1` over IPv6, else `127.0.0.1`.
    pub fn loopback(transport: Transport) -> &'static str {
        if matches!(transport, Transport::Tcp6 | Transport::Udp6) {
            "::1"
        } else {
            "127.0.0.1"
        }
    }

    /// `{addr}`: `HOST:PORT`, an IPv6 host in brackets.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_with_spaces_and_quotes_stays_one_shell_word_quoted_or_not() {
        let v = Placeholders { host: "127.0.0.1".into(), port: 1, path: "/tmp/a b/it's \"$x\".sock".into() };
        for template in ["echo {path}", "echo '{path}'", "echo \"{path}\"", "echo x\\ {path}"] {
            let line = expand(template, &v).unwrap();
            let out = std::process::Command::new("sh").arg("-c").arg(&line).output().unwrap();
            let printed = String::from_utf8_lossy(&out.stdout);
            assert!(printed.trim_end().ends_with("/tmp/a b/it's \"$x\".sock"), "{template}: {line} printed {printed}");
        }
    }

    fn values() -> Placeholders {
        Placeholders { host: "127.0.0.1".into(), port: 4242, path: "/tmp/x/echo.sock".into() }
    }

    #[test]
    fn expands_every_placeholder_and_literal_braces() {
        let cmd = "srv --port {port} --addr {addr} --host {host} --unix {path} '{{}}'";
        assert_eq!(
            expand(cmd, &values()).unwrap(),
            "srv --port 4242 --addr 127.0.0.1:4242 --host 127.0.0.1 --unix /tmp/x/echo.sock '{}'"
        );
    }

    #[test]
    fn spawn_ports_are_outside_the_ephemeral_range() {
        let port = free_port_for_spawn().unwrap();
        assert!((1024..32768).contains(&port), "{port}");
    }

    #[test]
    fn transport_follows_the_placeholders() {
        assert_eq!(transport_of("python3 s.py {port}", None).unwrap(), Transport::Tcp);
        assert_eq!(transport_of("./srv {path}", None).unwrap(), Transport::Unix);
        assert_eq!(transport_of("./srv {path} {port}", Some(Transport::Unix)).unwrap(), Transport::Unix);
        let err = |cmd: &str| transport_of(cmd, None).unwrap_err().to_string();
        assert!(err("./srv {path} {port}").contains("--transport"));
        assert!(err("./srv").contains("does not say where"));
        assert!(err("  ").contains("empty"));
        assert!(err("./srv {prot}").contains("unknown placeholder `{prot}`"));
        assert!(err("./srv {port").contains("without its"));
        assert!(err("./srv port}").contains("lone"));
    }
}
