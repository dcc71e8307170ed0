//! Every argument of every subcommand, and their parsers: the one place the command line is
//! described.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::engine::client::ClientStdio;
use crate::report::{Format, ReportOpts};
use crate::{server, Endpoint, Mode, Transform, Transport};

/// The whole command line: one subcommand and its arguments.
#[derive(Parser)]
#[command(
    name = "sockcheck",
    version,
    about = "Check uppercase-echo servers and clients over TCP, Unix, UDP and Unix datagram sockets"
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, one function each in [`cli`](super).
#[derive(Subcommand)]
pub enum Command {
    /// Run the reference server
    Serve(ServeArgs),
    /// Run the reference client: lines from stdin, replies to stdout
    Client(ClientArgs),
    /// Run the conformance catalogue against a server (default: the built-in one over TCP, Unix, UDP and
    /// Unix datagram sockets)
    Check(CheckArgs),
    /// List the scenarios of the catalogue
    List(ListArgs),
    /// Check a client: sockcheck plays the server (default: the built-in client, every transport)
    CheckClient(CheckClientArgs),
    /// Play random cases against a server until one fails, then shrink it to the smallest case that
    /// fails the same way (default: the built-in server over TCP)
    Explore(ExploreArgs),
    /// Play random cases against a client until one fails, then shrink it (default: the built-in
    /// client over TCP)
    ExploreClient(ExploreClientArgs),
    /// Forward between a client and a server, injecting faults (slices, delays, resets, closes;
    /// datagrams: drops, duplicates, swaps, delays)
    Proxy(ProxyArgs),
    /// Load a server: N connections (or datagram sockets), each sending a message and waiting for its whole reply
    Bench(BenchArgs),
    /// Render a saved JSON report (from --format json) again: as HTML, JUnit XML or the human text
    Report(ReportFileArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(super::completions::CompletionsArgs),
    /// Print the man page in roff (or every page into --dir)
    #[command(hide = true)]
    Man(super::completions::ManArgs),
}

/// `sockcheck report` arguments.
#[derive(Args)]
pub struct ReportFileArgs {
    /// A report written by `check` or `check-client` with --format json
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,
    /// The format to render: human, json, junit or html
    #[arg(long, value_name = "FORMAT", default_value = "human")]
    pub format: Format,
    /// Write it to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `sockcheck check` arguments.
#[derive(Args)]
pub struct CheckArgs {
    /// A running server to check (default: the built-in server over TCP, Unix, UDP and Unix datagram
    /// sockets)
    #[command(flatten)]
    pub addr: CheckAddrArgs,
    /// Only scenarios whose name contains TEXT (repeatable)
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// The target's serving model; scenarios that need one are skipped without it
    /// (built-in server: both unless given)
    #[arg(long)]
    pub model: Option<Mode>,
    /// What the target does to bytes: upper (the tutorial) or echo (e.g. `ncat --exec /bin/cat`)
    #[arg(long, default_value = "upper")]
    pub transform: Transform,
    /// Built-in server: these transports, a comma list of tcp, unix, udp, unix-dgram, or all
    /// [default: all]; --spawn: the one transport the command listens on (default: from its
    /// placeholders: {port} is TCP, {path} a Unix socket; say udp or unix-dgram for datagrams)
    #[arg(long, value_name = "LIST", value_parser = parse_transport_list, conflicts_with_all = ["tcp", "unix", "udp", "unix_dgram"])]
    pub transport: Option<TransportList>,
    /// --spawn: seconds the command has to accept connections after it is started
    #[arg(long, value_name = "SECS", default_value = "10", allow_negative_numbers = true, value_parser = parse_secs, requires = "spawn")]
    pub ready_timeout: Duration,
    /// Seconds a step may wait for the target (no byte for this long fails a reply)
    #[arg(long, value_name = "SECS", default_value = "5", allow_negative_numbers = true, value_parser = parse_secs)]
    pub timeout: Duration,
    /// Run the cases `sockcheck explore` saved in FILE instead of the catalogue
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// How the scenarios run: jobs, retries, flaky runs.
    #[command(flatten)]
    pub run: RunArgs,
    /// How the outcome is reported.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Like [`AddrArgs`] but with no default: none means the built-in server.
#[derive(Args, Clone)]
#[group(multiple = false)]
pub struct CheckAddrArgs {
    /// TCP address of a running server, HOST:PORT
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_tcp)]
    pub tcp: Option<Endpoint>,
    /// Unix socket path (or @NAME) of a running server
    #[arg(long, value_name = "PATH", value_parser = parse_unix)]
    pub unix: Option<Endpoint>,
    /// UDP address of a running datagram server, HOST:PORT
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_udp)]
    pub udp: Option<Endpoint>,
    /// Unix datagram socket path (AF_UNIX SOCK_DGRAM) of a running server
    #[arg(long, value_name = "PATH", value_parser = parse_unix_dgram)]
    pub unix_dgram: Option<Endpoint>,
    /// A server to start (and stop afterwards): a shell command with {port}, {addr}, {host} or {path} in it,
    /// e.g. "python3 server.py {port}"
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,
}

impl CheckAddrArgs {
    /// The running server's address (`--tcp`, `--unix`, `--udp` or `--unix-dgram`), if one was given.
    pub fn running(&self) -> Option<Endpoint> {
        [&self.tcp, &self.unix, &self.udp, &self.unix_dgram].into_iter().find_map(Clone::clone)
    }
}

/// The flag that names `endpoint` on the command line: `--tcp`, `--unix`, `--udp` or `--unix-dgram`.
pub fn address_flag(endpoint: &Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Tcp(_) => "--tcp",
        Endpoint::Unix(_) | Endpoint::Abstract(_) => "--unix",
        Endpoint::Udp(_) => "--udp",
        Endpoint::UnixDgram(_) | Endpoint::AbstractDgram(_) => "--unix-dgram",
    }
}

/// `sockcheck list` arguments.
#[derive(Args)]
pub struct ListArgs {
    /// Only scenarios whose name contains TEXT
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Print each scenario as the Rust code that builds it
    #[arg(long)]
    pub code: bool,
}

/// Where to listen or connect: `--tcp HOST:PORT` or `--unix PATH` (`@NAME` for an abstract socket).
#[derive(Args, Clone)]
#[group(multiple = false)]
pub struct AddrArgs {
    /// TCP address, HOST:PORT (IPv6 in brackets: [::1]:8080) [default: 127.0.0.1:8080]
    // This doc comment is clap's help text: `[::1]` is not a link, and escaping it would show.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_tcp)]
    pub tcp: Option<Endpoint>,
    /// Unix socket path, or @NAME for Linux's abstract namespace
    #[arg(long, value_name = "PATH", value_parser = parse_unix)]
    pub unix: Option<Endpoint>,
    /// UDP address, HOST:PORT (datagrams)
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_udp)]
    pub udp: Option<Endpoint>,
    /// Unix datagram socket path (AF_UNIX SOCK_DGRAM)
    #[arg(long, value_name = "PATH", value_parser = parse_unix_dgram)]
    pub unix_dgram: Option<Endpoint>,
}

impl AddrArgs {
    /// The address given, or TCP 127.0.0.1:8080 when none was.
    pub fn endpoint(&self) -> Endpoint {
        [&self.tcp, &self.unix, &self.udp, &self.unix_dgram]
            .into_iter()
            .find_map(Clone::clone)
            .unwrap_or_else(|| Endpoint::Tcp(([127, 0, 0, 1], 8080).into()))
    }
}

/// `--transport tcp,udp` or `all`.
#[derive(Clone, Debug)]
pub struct TransportList(pub Vec<Transport>);

fn parse_transport_list(s: &str) -> Result<TransportList, String> {
    Transport::parse_list(s).map(TransportList)
}

fn parse_udp(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse_udp(s).map_err(|e| e.to_string())
}

fn parse_unix_dgram(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse_unix_dgram(s).map_err(|e| e.to_string())
}

fn parse_tcp(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse_tcp(s).map_err(|e| e.to_string())
}

fn parse_unix(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse_unix(s).map_err(|e| e.to_string())
}

fn parse_octal_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("`{s}` is not a permission mode like 600 or 0660")),
    }
}

/// `sockcheck serve` arguments.
#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[command(flatten)]
    pub addr: AddrArgs,
    /// sequential: one client at a time, the rest queue (the tutorial); concurrent: all at once
    #[arg(long, default_value = "sequential")]
    pub mode: Mode,
    /// listen() backlog
    #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(1..=65535))]
    pub backlog: i32,
    /// Bytes per recv() [default: 1024 (the tutorial's) in sequential mode, 65536 in concurrent mode
    /// and for datagrams, where a longer datagram is logged (MSG_TRUNC) and not answered]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    pub bufsize: Option<u64>,
    /// upper: a-z become A-Z; echo: bytes come back unchanged
    #[arg(long, default_value = "upper")]
    pub transform: Transform,
    /// Concurrent mode: serve at most N connections at once; the rest wait in the backlog
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_conns: Option<u64>,
    /// Concurrent mode: with at most N connections open, serve each on a thread of its own (lowest
    /// latency); with more, all on the event loop (least memory, fair share). 0: event loop only
    /// [default: 16, at most 256]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(0..=server::MAX_THREADS as u64))]
    pub threads: Option<u64>,
    /// Close connections idle for this many seconds
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_secs)]
    pub idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, seconds in-flight replies get to finish
    #[arg(long, value_name = "SECS", default_value = "5", allow_negative_numbers = true, value_parser = parse_secs)]
    pub grace: Duration,
    /// Permission bits of the Unix socket file, set at creation (never wider in between)
    #[arg(long, value_name = "OCTAL", default_value = "600", value_parser = parse_octal_mode)]
    pub socket_mode: u32,
}

/// Seconds as a [`Duration`], more than 0 and at most a day: every `SECS` argument's parser.
pub(crate) fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        Ok(v) if v < 0.0 => Err(format!("`{s}` is negative: give a number of seconds between 0 and 86400")),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 86400")),
    }
}

/// `sockcheck client` arguments.
#[derive(Args)]
pub struct ClientArgs {
    /// The server to connect to.
    #[command(flatten)]
    pub addr: AddrArgs,
    /// Give up on a reply after this many seconds (default: wait; datagrams: 1)
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    /// Datagrams: send a line again this many times when its reply does not come within --timeout
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
}

/// `--jobs`, `--retries`, `--flaky-fails`: how `check` and `check-client` run their scenarios.
#[derive(Args)]
pub struct RunArgs {
    /// Scenarios run at once, each against a server (or client) of its own [default: the number of
    /// CPUs; 1 against a running --tcp/--unix server]. --jobs 1 runs them one by one, in order
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: Option<u64>,
    /// Run a failed scenario again up to N times against a fresh target; one that then passes is
    /// reported as flaky
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
    /// Exit 1 when a scenario was flaky (by default only failures do)
    #[arg(long)]
    pub flaky_fails: bool,
}

/// `--format`, `--output` and `--verbose`: how `check` and `check-client` report.
#[derive(Args)]
pub struct ReportArgs {
    /// Report format written to --output (or to stdout without --output): human, json, junit or
    /// html (one page with a sequence diagram per scenario)
    #[arg(long, value_name = "FORMAT", default_value = "human")]
    pub format: Format,
    /// Write the report in --format to FILE (the human table still goes to the terminal)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print every scenario's transcript, not only the failures'
    #[arg(long, short)]
    pub verbose: bool,
}

impl ReportArgs {
    /// The reporter's options, named for `check` (the other subcommands put their own name in).
    pub fn opts(&self) -> ReportOpts {
        ReportOpts {
            format: self.format,
            output: self.output.clone(),
            verbose: self.verbose,
            command_line: Some(super::command_line()),
            command: "check",
        }
    }
}

/// `sockcheck check-client` arguments.
#[derive(Args)]
pub struct CheckClientArgs {
    /// The client to check, run through `sh -c` with {host} {port} {addr} (TCP, UDP) or {path}
    /// (Unix) filled in, e.g. "python3 client.py {port}" (default: the built-in client)
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,
    /// Built-in client: these transports, a comma list of tcp, unix, udp, unix-dgram, or all
    /// [default: all]; --spawn: the one transport the client uses (default: from its
    /// placeholders: {port} is TCP, {path} a Unix socket; say udp or unix-dgram for datagrams)
    #[arg(long, value_name = "LIST", value_parser = parse_transport_list)]
    pub transport: Option<TransportList>,
    /// Only scenarios whose name contains TEXT (repeatable)
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Seconds a step may wait for the client (its output, its exit)
    #[arg(long, value_name = "SECS", default_value = "5", allow_negative_numbers = true, value_parser = parse_secs)]
    pub timeout: Duration,
    /// A prompt the client prints before each line (e.g. ">>: "), ignored at the start of output
    /// lines [default: what the client prints without a newline before its first line]
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// The client's stdin and stdout: pty (a terminal, as when you run it: output is flushed at
    /// each line) or pipe (output is block-buffered unless the client flushes); stderr is a pipe
    #[arg(long, value_name = "pty|pipe", default_value = "pty")]
    pub stdio: ClientStdio,
    /// List the client scenarios and exit
    #[arg(long)]
    pub list: bool,
    /// Run the cases `sockcheck explore-client` saved in FILE instead of the catalogue
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// How the scenarios run: jobs, retries, flaky runs.
    #[command(flatten)]
    pub run: RunArgs,
    /// How the outcome is reported.
    #[command(flatten)]
    pub report: ReportArgs,
}

fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse(s).map_err(|e| e.to_string())
}

/// `sockcheck proxy` arguments.
#[derive(Args)]
pub struct ProxyArgs {
    /// Where clients connect: HOST:PORT, tcp://HOST:PORT, unix:PATH or @NAME; for datagrams
    /// udp://HOST:PORT or unix-dgram:PATH
    #[arg(long, value_name = "ADDR", value_parser = parse_endpoint)]
    pub listen: Endpoint,
    /// The server to forward to, same forms (streams to streams, datagrams to datagrams)
    #[arg(long, value_name = "ADDR", value_parser = parse_endpoint)]
    pub upstream: Endpoint,
    /// Forward in pieces of at most N bytes, each written on its own (both directions)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    pub slice: Option<u64>,
    /// Milliseconds to pause before each piece, or each datagram (both directions)
    #[arg(long, value_name = "MS", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub delay: Option<u64>,
    /// Reset the client's connection (RST) after this many bytes went to it
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, conflicts_with = "close_after", value_parser = clap::value_parser!(u64))]
    pub reset_after: Option<u64>,
    /// Close the client's connection cleanly (FIN) after this many bytes went to it
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = clap::value_parser!(u64))]
    pub close_after: Option<u64>,
    /// Datagrams: drop every Nth datagram of each client, each direction (1: all)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub drop_every: Option<u64>,
    /// Datagrams: send each datagram twice (both directions)
    #[arg(long)]
    pub duplicate: bool,
    /// Datagrams: swap each pair of datagrams (the first waits for the second; both directions)
    #[arg(long)]
    pub reorder: bool,
}

/// `sockcheck bench` arguments.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The server to load: a running one, or a command that sockcheck starts and stops
    #[command(flatten)]
    pub addr: CheckAddrArgs,
    /// Connections (datagrams: client sockets), each with one request in flight
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub conns: u64,
    /// Bytes per message
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    pub size: u64,
    /// Seconds to run
    #[arg(long, value_name = "SECS", default_value = "5", allow_negative_numbers = true, value_parser = parse_secs)]
    pub duration: Duration,
    /// Seconds to wait for a connect or a whole reply before counting an error; datagrams: for a
    /// reply before counting the datagram as lost [default: 10; datagrams: 1]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    /// The transform the server applies: upper or echo
    #[arg(long, default_value = "upper")]
    pub transform: Transform,
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
    /// --spawn: the transport the command serves (default: from its placeholders; say udp or
    /// unix-dgram for datagrams)
    #[arg(long, requires = "spawn")]
    pub transport: Option<Transport>,
}

/// How long and how `explore` and `explore-client` run.
#[derive(Args)]
pub struct ExploreRunArgs {
    /// Seconds to generate cases for (shrinking a failure comes after)
    #[arg(long, value_name = "SECS", default_value = "60", allow_negative_numbers = true, value_parser = parse_secs)]
    pub time: Duration,
    /// Stop after N cases (or at --time, whichever comes first)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub cases: Option<u64>,
    /// The generator's seed: the same seed (and --jobs) plays the same cases [default: from the clock;
    /// printed on every run]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Cases played at once, each worker with a program of its own [default: the number of CPUs; 1
    /// against a running server]
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: Option<u64>,
    /// Seconds a step may wait; short waits derived from the program's measured reply times are
    /// used while exploring, and a failure that rests on one is confirmed with this
    #[arg(long, value_name = "SECS", default_value = "5", allow_negative_numbers = true, value_parser = parse_secs)]
    pub timeout: Duration,
    /// Seconds shrinking a failure may take (then the smallest case so far is reported)
    #[arg(long, value_name = "SECS", default_value = "120", allow_negative_numbers = true, value_parser = parse_secs)]
    pub shrink_time: Duration,
    /// The file of found cases, replayed first and added to [default: sockcheck-explore.regressions
    /// in the working directory]
    #[arg(long, value_name = "FILE")]
    pub regressions: Option<PathBuf>,
}

/// `sockcheck explore` arguments.
#[derive(Args)]
pub struct ExploreArgs {
    /// The server to explore: a running one, or a command sockcheck starts (default: the built-in
    /// server)
    #[command(flatten)]
    pub addr: CheckAddrArgs,
    /// The server's model: concurrent lets generated clients take turns [default: detected]
    #[arg(long)]
    pub model: Option<Mode>,
    /// What the server does to bytes: upper (the tutorial) or echo
    #[arg(long, default_value = "upper")]
    pub transform: Transform,
    /// Built-in server: the transport to explore [default: tcp]; --spawn: the one the command serves
    /// (default: from its placeholders; say udp or unix-dgram for datagrams)
    #[arg(long, conflicts_with_all = ["tcp", "unix", "udp", "unix_dgram"])]
    pub transport: Option<Transport>,
    /// --spawn: seconds the command has to accept connections after it is started
    #[arg(long, value_name = "SECS", default_value = "10", allow_negative_numbers = true, value_parser = parse_secs, requires = "spawn")]
    pub ready_timeout: Duration,
    /// How long and how the exploration runs.
    #[command(flatten)]
    pub explore: ExploreRunArgs,
    /// How a failure found is reported.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `sockcheck explore-client` arguments.
#[derive(Args)]
pub struct ExploreClientArgs {
    /// The client to explore, run through `sh -c` with {host} {port} {addr} (TCP, UDP) or {path}
    /// (Unix) filled in, e.g. "python3 client.py {port}" (default: the built-in client)
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,
    /// The transport the client uses [default: from the placeholders of --spawn; built-in: tcp]
    #[arg(long)]
    pub transport: Option<Transport>,
    /// A prompt the client prints before each line (e.g. ">>: ") [default: detected]
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// The client's stdin and stdout: pty (a terminal) or pipe
    #[arg(long, value_name = "pty|pipe", default_value = "pty")]
    pub stdio: ClientStdio,
    /// How long and how the exploration runs.
    #[command(flatten)]
    pub explore: ExploreRunArgs,
    /// How a failure found is reported.
    #[command(flatten)]
    pub report: ReportArgs,
}
