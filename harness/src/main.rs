//! The `sockcheck` command line: a thin `clap` layer over the library.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sockcheck::net::{self, ListenOpts};
use sockcheck::{client, server, Endpoint, Mode, ServerConfig, Transform};

#[derive(Parser)]
#[command(name = "sockcheck", version, about = "Check uppercase-echo servers and clients over TCP and Unix sockets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference server
    Serve(ServeArgs),
    /// Run the reference client: lines from stdin, replies to stdout
    Client(ClientArgs),
    /// Load a server: N connections, each sending a message and waiting for its whole reply
    Bench(sockcheck::bench::BenchArgs),
}

/// Where to listen or connect: `--tcp HOST:PORT` or `--unix PATH` (`@NAME` for an abstract socket).
#[derive(Args, Clone)]
#[group(multiple = false)]
struct AddrArgs {
    /// TCP address, HOST:PORT (IPv6 in brackets: [::1]:8080)
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_tcp)]
    tcp: Option<Endpoint>,
    /// Unix socket path, or @NAME for Linux's abstract namespace
    #[arg(long, value_name = "PATH", value_parser = parse_unix)]
    unix: Option<Endpoint>,
}

impl AddrArgs {
    fn endpoint(&self) -> Endpoint {
        self.tcp.clone().or_else(|| self.unix.clone()).unwrap_or_else(|| Endpoint::Tcp(([127, 0, 0, 1], 8080).into()))
    }
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

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    addr: AddrArgs,
    /// sequential: one client at a time, the rest queue (the tutorial); concurrent: all at once
    #[arg(long, default_value = "sequential")]
    mode: Mode,
    /// listen() backlog
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=65535))]
    backlog: i32,
    /// Bytes per recv()
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    bufsize: u64,
    /// upper: a-z become A-Z; echo: bytes come back unchanged
    #[arg(long, default_value = "upper")]
    transform: Transform,
    /// Concurrent mode: serve at most N connections at once; the rest wait in the backlog
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_conns: Option<u64>,
    /// Close connections idle for this many seconds
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, seconds in-flight replies get to finish
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    grace: Duration,
    /// Permission bits of the Unix socket file
    #[arg(long, value_name = "OCTAL", default_value = "600", value_parser = parse_octal_mode)]
    socket_mode: u32,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 86400")),
    }
}

#[derive(Args)]
struct ClientArgs {
    #[command(flatten)]
    addr: AddrArgs,
    /// Give up on a reply after this many seconds (default: wait)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Client(args) => run_client(args),
        Command::Bench(args) => match sockcheck::bench::main(args) {
            Ok(true) => Ok(ExitCode::SUCCESS),
            Ok(false) => Ok(ExitCode::FAILURE),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sockcheck: error: {e:#}");
            ExitCode::from(exit_code_of(&e))
        }
    }
}

fn exit_code_of(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<sockcheck::Error>() {
        Some(err) => err.exit_code() as u8,
        None => 1,
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    net::raise_fd_limit();
    let endpoint = args.addr.endpoint();
    let listen = ListenOpts { backlog: args.backlog, unix_mode: args.socket_mode };
    let cfg = ServerConfig {
        mode: args.mode,
        bufsize: args.bufsize as usize,
        transform: args.transform,
        max_conns: args.max_conns.map(|n| n as usize),
        idle_timeout: args.idle_timeout,
        grace: args.grace,
        log_errors: true,
    };
    let rt = server::runtime_for(cfg.mode)?;
    let listener = net::bind(&endpoint, &listen)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", listener.endpoint)?;
    stdout.flush()?;
    rt.block_on(async {
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(watch_signals(stop.clone()));
        server::run(listener, cfg, stop).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// First SIGINT/SIGTERM: graceful stop. Second: exit at once.
async fn watch_signals(stop: tokio_util::sync::CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    eprintln!("sockcheck serve: shutting down (again to stop at once)");
    stop.cancel();
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    std::process::exit(130);
}

fn run_client(args: ClientArgs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let cfg = client::ClientConfig {
        endpoint: args.addr.endpoint(),
        connect_timeout: Duration::from_secs(10),
        reply_timeout: args.timeout,
        prompt: stdin.is_terminal(),
    };
    match client::run(&cfg, stdin, std::io::stdout().lock()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(client::ClientError::Setup(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("sockcheck client: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
