//! The `sockcheck` command line: a thin `clap` layer over the library.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sockcheck::net::{self, ListenOpts};
use sockcheck::{client, server, Endpoint, Mode, ServerConfig, Transform};

mod client_cli;

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
    /// Run the conformance catalogue against a server (default: the built-in one, TCP and Unix)
    Check(CheckArgs),
    /// List the scenarios of the catalogue
    List(ListArgs),
    /// Check a client: sockcheck plays the server (default: the built-in client, TCP and Unix)
    CheckClient(client_cli::CheckClientArgs),
    /// Forward between a client and a server, injecting faults (slices, delays, resets, closes)
    Proxy(client_cli::ProxyArgs),
    /// Load a server: N connections, each sending a message and waiting for its whole reply
    Bench(sockcheck::bench::BenchArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// A running server to check (default: the built-in server over TCP and Unix sockets)
    #[command(flatten)]
    addr: CheckAddrArgs,
    /// Only scenarios whose name contains TEXT (repeatable)
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
    /// The target's serving model; scenarios that need one are skipped without it
    /// (built-in server: both unless given)
    #[arg(long)]
    model: Option<Mode>,
    /// What the target does to bytes: upper (the tutorial) or echo (e.g. `ncat --exec /bin/cat`)
    #[arg(long, default_value = "upper")]
    transform: Transform,
    /// Built-in server: run over this transport only; --spawn: the transport the command listens
    /// on (default: from its placeholders)
    #[arg(long, conflicts_with_all = ["tcp", "unix"])]
    transport: Option<sockcheck::Transport>,
    /// --spawn: seconds the command has to accept connections after it is started
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs, requires = "spawn")]
    ready_timeout: Duration,
    /// Seconds a step may wait for the target (no byte for this long fails a reply)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    timeout: Duration,
    #[command(flatten)]
    report: ReportArgs,
}

/// Like [`AddrArgs`] but with no default: none means the built-in server.
#[derive(Args, Clone)]
#[group(multiple = false)]
struct CheckAddrArgs {
    /// TCP address of a running server, HOST:PORT
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_tcp)]
    tcp: Option<Endpoint>,
    /// Unix socket path (or @NAME) of a running server
    #[arg(long, value_name = "PATH", value_parser = parse_unix)]
    unix: Option<Endpoint>,
    /// A server to start and check: a shell command with {port}, {addr}, {host} or {path} in it,
    /// e.g. "python3 server.py {port}"
    #[arg(long, value_name = "CMD")]
    spawn: Option<String>,
}

#[derive(Args)]
struct ListArgs {
    /// Only scenarios whose name contains TEXT
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
    /// Print each scenario as the Rust code that builds it
    #[arg(long)]
    code: bool,
}

/// Where to listen or connect: `--tcp HOST:PORT` or `--unix PATH` (`@NAME` for an abstract socket).
#[derive(Args, Clone)]
#[group(multiple = false)]
struct AddrArgs {
    /// TCP address, HOST:PORT (IPv6 in brackets: [::1]:8080) [default: 127.0.0.1:8080]
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
    #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(1..=65535))]
    backlog: i32,
    /// Bytes per recv() [default: 1024 (the tutorial's) in sequential mode, 65536 in concurrent mode]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    bufsize: Option<u64>,
    /// upper: a-z become A-Z; echo: bytes come back unchanged
    #[arg(long, default_value = "upper")]
    transform: Transform,
    /// Concurrent mode: serve at most N connections at once; the rest wait in the backlog
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_conns: Option<u64>,
    /// Concurrent mode: with at most N connections open, serve each on a thread of its own (lowest
    /// latency); with more, all on the event loop (least memory, fair share). 0: event loop only
    /// [default: 16, at most 256]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(0..=server::MAX_THREADS as u64))]
    threads: Option<u64>,
    /// Close connections idle for this many seconds
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_secs)]
    idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, seconds in-flight replies get to finish
    #[arg(long, value_name = "SECS", default_value = "5", allow_negative_numbers = true, value_parser = parse_secs)]
    grace: Duration,
    /// Permission bits of the Unix socket file, set at creation (never wider in between)
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
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_secs)]
    timeout: Option<Duration>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    // Every subcommand may open many sockets: no user should need `ulimit -n` for 1,000 connections.
    net::raise_fd_limit();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Client(args) => run_client(args),
        Command::Check(args) => check(args),
        Command::List(args) => list(args),
        Command::CheckClient(args) => client_cli::check_client(args),
        Command::Proxy(args) => client_cli::proxy(args),
        Command::Bench(args) => match sockcheck::bench::main(args) {
            Ok(true) => Ok(ExitCode::SUCCESS),
            Ok(false) => Ok(ExitCode::FAILURE),
            Err(e) => Err(e.into()),
        },
    };
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        // The run ended because its program was killed by the interrupt watcher, which exits 130
        // once its cleanup is done: leave the exit to it.
        loop {
            std::thread::park();
        }
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sockcheck: error: {e:#}");
            ExitCode::from(exit_code_of(&e))
        }
    }
}

/// `--help`, `--version` and a missing subcommand print as clap has them; every other usage error
/// is one line (clap's first, without its "try --help" footer and tips), exit 2.
fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(e.exit_code() as u8)
        }
        _ => {
            let text = e.to_string();
            let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("invalid command line");
            let line = line.strip_prefix("error: ").unwrap_or(line);
            eprintln!("sockcheck: error: {line}");
            ExitCode::from(2)
        }
    }
}

/// Set by the interrupt watcher before it cleans up.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// On SIGINT, SIGTERM or SIGHUP: stop what sockcheck started (`cleanup`: the programs under test
/// run in process groups of their own, which the terminal's Ctrl-C does not reach), say so, exit 130.
/// The handlers are installed before this returns, so no signal finds the default action.
fn exit_130_on_interrupt(what: &'static str, cleanup: fn()) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut signals = {
        let _guard = rt.enter();
        [signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?, signal(SignalKind::hangup())?]
    };
    std::thread::spawn(move || {
        rt.block_on(async {
            let [a, b, c] = &mut signals;
            tokio::select! { _ = a.recv() => {}, _ = b.recv() => {}, _ = c.recv() => {} }
        });
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        cleanup();
        eprintln!("\nsockcheck: interrupted; {what}");
        std::process::exit(130);
    });
    Ok(())
}

fn exit_code_of(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<sockcheck::Error>() {
        Some(err) => err.exit_code() as u8,
        None => 1,
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    for (given, flag) in [(args.max_conns.is_some(), "--max-conns"), (args.threads.is_some(), "--threads")] {
        if given && args.mode != Mode::Concurrent {
            return Err(sockcheck::Error::Usage(format!(
                "{flag} needs --mode concurrent (sequential serves one at a time)"
            ))
            .into());
        }
    }
    let endpoint = args.addr.endpoint();
    let listen = ListenOpts { backlog: args.backlog, unix_mode: args.socket_mode };
    let cfg = ServerConfig {
        mode: args.mode,
        bufsize: args.bufsize.map_or(server::default_bufsize(args.mode), |n| n as usize),
        transform: args.transform,
        max_conns: args.max_conns.map(|n| n as usize),
        threads: args.threads.map_or(server::DEFAULT_THREADS, |n| n as usize),
        idle_timeout: args.idle_timeout,
        grace: args.grace,
        log_errors: true,
    };
    let rt = server::runtime_for(cfg.mode)?;
    let listener = net::bind(&endpoint, &listen)?;
    rt.block_on(async {
        // Handlers go in before the "listening" line: a signal sent as soon as it is read must
        // not find the default action (death without removing the socket file).
        use tokio::signal::unix::{signal, SignalKind};
        let signals = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        let remove_socket_file = listener.socket_file.as_ref().map(|f| f.remover());
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on {}", listener.endpoint)?;
        stdout.flush()?;
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(watch_signals(signals, stop.clone(), remove_socket_file));
        server::run(listener, cfg, stop).await.map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// First SIGINT/SIGTERM: graceful stop. Second: exit at once, removing the socket file first (the
/// accept loop may not have got to it yet).
async fn watch_signals(
    (mut int, mut term): (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
    stop: tokio_util::sync::CancellationToken,
    remove_socket_file: Option<net::SocketFileRemover>,
) {
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    eprintln!("sockcheck serve: shutting down (again to stop at once)");
    stop.cancel();
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    if let Some(remove) = remove_socket_file {
        remove.remove();
    }
    eprintln!("sockcheck serve: stopped at once");
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

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    use sockcheck::check::{self, TargetSpec};
    use sockcheck::spawn::{self, SpawnOpts, SpawnTarget};
    use sockcheck::target::{AddressTarget, Target};
    net::raise_fd_limit();
    let scenarios = check::select(sockcheck::catalogue::all(), &args.filter);
    if scenarios.is_empty() {
        return Err(
            sockcheck::Error::Usage(format!("no scenario matches {:?}; see `sockcheck list`", args.filter)).into()
        );
    }
    let output = args.report.open_output()?;
    let (spec, what) = if let Some(command) = &args.addr.spawn {
        let opts = SpawnOpts {
            transport: args.transport,
            ready_timeout: args.ready_timeout,
            model: args.model,
            transform: args.transform,
            ..SpawnOpts::new(command.clone())
        };
        let mut target = SpawnTarget::new(opts)?;
        exit_130_on_interrupt("the spawned server was stopped", spawn::kill_all_spawned)?;
        // Started once here: a command that does not come up fails the check at once (not once
        // per scenario), and the model can be probed. The first scenario reuses this process.
        target.start().map_err(|e| anyhow::anyhow!("the server did not start: {e}"))?;
        let model = match args.model {
            Some(m) => format!("{m}"),
            None => {
                let detected = spawn::detect_model(&target.endpoint(), Duration::from_millis(500));
                target.set_model(detected);
                match detected {
                    Some(m) => format!("{m}, detected"),
                    None => "model unknown: the first client got no reply".to_string(),
                }
            }
        };
        let what = format!(
            "{} scenarios against `{}` ({model}) over {}",
            scenarios.len(),
            target.command_line(),
            target.endpoint().transport()
        );
        (TargetSpec::Given(Box::new(target)), what)
    } else if let Some(endpoint) = args.addr.tcp.clone().or_else(|| args.addr.unix.clone()) {
        let what = format!("{} scenarios against the server at {endpoint}", scenarios.len());
        (TargetSpec::Given(Box::new(AddressTarget { endpoint, model: args.model, transform: args.transform })), what)
    } else {
        let transports = args.transport.map_or(sockcheck::Transport::ALL.to_vec(), |t| vec![t]);
        let models = args.model.map_or(vec![Mode::Sequential, Mode::Concurrent], |m| vec![m]);
        let what = format!(
            "{} scenarios against the built-in server ({}) over {}",
            scenarios.len(),
            models.iter().map(|m| m.name()).collect::<Vec<_>>().join(" and "),
            transports.iter().map(|t| t.name()).collect::<Vec<_>>().join(" and ")
        );
        (TargetSpec::Reference { transports, models, transform: args.transform }, what)
    };
    let opts = sockcheck::runner::RunOpts { step_timeout: args.timeout, ..Default::default() };
    reported(&args.report, output, scenarios.iter().map(|s| s.name()), &what, |started, each| {
        check::run_observed(&scenarios, spec, opts, |s, t| started(s.name(), t), each)
    })
}

/// `--format`, `--output` and `--verbose`: how `check` and `check-client` report.
#[derive(Args)]
struct ReportArgs {
    /// Report format written to --output (or to stdout without --output): human, json or junit
    #[arg(long, value_name = "FORMAT", default_value = "human")]
    format: sockcheck::report::Format,
    /// Write the report in --format to FILE (the human table still goes to the terminal)
    #[arg(long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Print every scenario's transcript, not only the failures'
    #[arg(long, short)]
    verbose: bool,
}

impl ReportArgs {
    /// Created before anything runs: a bad path is a usage error, not a report lost at the end.
    fn open_output(&self) -> anyhow::Result<Option<std::fs::File>> {
        let Some(path) = &self.output else { return Ok(None) };
        let file = std::fs::File::create(path)
            .map_err(|e| sockcheck::Error::Usage(format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(file))
    }
}

/// The table, progress line and report around a run of scenarios, for `check` and `check-client`.
/// `run` calls `started(name, transport)` before each scenario and `each(outcome)` after it.
fn reported<'a>(
    args: &ReportArgs,
    output: Option<std::fs::File>,
    names: impl Iterator<Item = &'a str>,
    what: &str,
    run: impl FnOnce(
        &mut dyn FnMut(&str, sockcheck::Transport),
        &mut dyn FnMut(&sockcheck::runner::Outcome),
    ) -> std::io::Result<Vec<sockcheck::runner::Outcome>>,
) -> anyhow::Result<ExitCode> {
    use sockcheck::check::HumanReport;
    use sockcheck::report::{self, Format, Progress};
    use std::io::Write;
    // Without --output a machine format goes to stdout, alone; the human table goes to the
    // terminal otherwise.
    let table = output.is_some() || args.format == Format::Human;
    let stdout = std::io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut human = HumanReport::with_names(stdout.lock(), color, names);
    if table {
        human.header(what)?;
    }
    let progress = std::io::stderr().is_terminal().then(Progress::start);
    let mut write_err = None;
    let outcomes = run(
        &mut |name, transport| {
            if let Some(p) = &progress {
                p.begin(format!("{name} over {transport}"));
            }
        },
        &mut |o| {
            if let Some(p) = &progress {
                p.end();
            }
            if table {
                if let Err(e) = human.row(o) {
                    write_err.get_or_insert(e);
                }
            }
        },
    )?;
    if let Some(p) = &progress {
        p.done();
    }
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if table {
        if args.verbose {
            for o in outcomes.iter().filter(|o| !o.failed()) {
                println!("\n{}", o.report());
            }
        }
        human.finish(&outcomes)?;
    }
    drop(human);
    match output {
        Some(mut file) => {
            report::write_report(args.format, &outcomes, &mut file)?;
            file.flush()?;
        }
        None if args.format != Format::Human => {
            let mut out = std::io::stdout().lock();
            report::write_report(args.format, &outcomes, &mut out)?;
            out.flush()?;
        }
        None => {}
    }
    Ok(if outcomes.iter().any(|o| o.failed()) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let scenarios = sockcheck::check::select(sockcheck::catalogue::all(), &args.filter);
    let width = scenarios.iter().map(|s| s.name().len()).max().unwrap_or(0);
    for s in &scenarios {
        if args.code {
            println!("{}\n", s.to_code());
        } else {
            println!("{:<width$}  {}", s.name(), s.description());
        }
    }
    Ok(ExitCode::SUCCESS)
}
