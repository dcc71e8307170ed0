//! The command line: its arguments ([`args`]) and one function per subcommand, each returning
//! whether the run succeeded. `main.rs` parses and maps errors to exit codes; nothing else.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::engine::client::ClientStdio;
use crate::engine::{self, CheckOpts, ClientCommand, ClientOpts, RunOpts, TargetSpec};
use crate::error::{Error, Result};
use crate::net::{self, ListenOpts};
use crate::proxy::{self, Faults};
use crate::report::{ReportOpts, Reporter};
use crate::target::placeholders::shell_quote;
use crate::target::{self, placeholders, AddressTarget, SpawnOpts, SpawnTarget, Target};
use crate::{bench, catalogue, client, client_catalogue, process, server, Mode, ServerConfig, Transport};
use tokio_util::sync::CancellationToken;

pub mod args;
pub mod completions;
mod explore;

pub use args::*;
pub use completions::{completions, man};
pub use explore::{explore, explore_client};

/// Set by the interrupt watcher before it cleans up: the run ended because its program was
/// killed, and the watcher exits 130 once its cleanup is done.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The one wiring of signals: SIGINT, SIGTERM and SIGHUP. The first cancels the returned token,
/// then runs `first`; another runs `again`. The handlers are installed before this returns, so no
/// signal finds the default action.
fn on_signals(
    first: impl FnOnce() + Send + 'static,
    again: impl FnOnce() + Send + 'static,
) -> std::io::Result<CancellationToken> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut signals = {
        let _guard = rt.enter();
        [signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?, signal(SignalKind::hangup())?]
    };
    let token = CancellationToken::new();
    let cancel = token.clone();
    std::thread::spawn(move || {
        let mut any = || {
            rt.block_on(async {
                let [a, b, c] = &mut signals;
                tokio::select! { _ = a.recv() => {}, _ = b.recv() => {}, _ = c.recv() => {} }
            })
        };
        any();
        cancel.cancel();
        first();
        any();
        again();
    });
    Ok(token)
}

/// For a run that starts programs (check, check-client, bench): on a signal, stop every program
/// sockcheck started and everything they started (they run in process groups of their own, which
/// the terminal's Ctrl-C does not reach), remove the run's temp dirs, say so, exit 130.
fn exit_130_on_interrupt(what: &'static str) -> std::io::Result<()> {
    on_signals(
        move || {
            INTERRUPTED.store(true, Ordering::SeqCst);
            process::kill_all();
            eprintln!("\nsockcheck: interrupted; {what}");
            std::process::exit(130);
        },
        || {},
    )?;
    Ok(())
}

/// The start of a run that starts programs or makes temp dirs: the interrupt handler, then the
/// run's temp dir (so a signal at any moment finds either nothing made yet, or the dir listed).
pub(crate) fn interruptible() -> Result<process::RunDir> {
    exit_130_on_interrupt("every program it started was stopped")?;
    Ok(process::RunDir::create()?)
}

/// What a run found outside the process groups of the programs it started (and stopped), one
/// line each, to print at its end whether it passed, failed or could not start.
pub fn escaped_notes() -> Vec<String> {
    let escaped = process::take_escaped();
    let mut notes: Vec<String> = escaped.iter().map(process::Escaped::describe).collect();
    if !escaped.is_empty() {
        notes.push(
            "what goes into the background (setsid, a double fork, a daemon) is not checked as the program \
             sockcheck started: run it in the foreground"
                .into(),
        );
    }
    notes
}

/// `sockcheck serve`.
pub fn serve(args: ServeArgs) -> Result<bool> {
    for (given, flag) in [(args.max_conns.is_some(), "--max-conns"), (args.threads.is_some(), "--threads")] {
        if given && args.mode != Mode::Concurrent {
            return Err(Error::Usage(format!("{flag} needs --mode concurrent (sequential serves one at a time)")));
        }
    }
    let endpoint = args.addr.endpoint();
    let datagram = endpoint.transport().is_datagram();
    let listen = ListenOpts { backlog: args.backlog, unix_mode: args.socket_mode };
    let default_bufsize =
        if datagram { server::datagram::DEFAULT_DGRAM_BUFSIZE } else { server::default_bufsize(args.mode) };
    let cfg = ServerConfig {
        mode: args.mode,
        bufsize: args.bufsize.map_or(default_bufsize, |n| n as usize),
        transform: args.transform,
        max_conns: args.max_conns.map(|n| n as usize),
        threads: args.threads.map_or(server::DEFAULT_THREADS, |n| n as usize),
        idle_timeout: args.idle_timeout,
        grace: args.grace,
        log_errors: true,
    };
    if datagram {
        return serve_datagrams(&endpoint, &listen, cfg);
    }
    let rt = server::runtime_for(cfg.mode)?;
    let listener = net::bind(&endpoint, &listen)?;
    // Handlers go in before the "listening" line: a signal sent as soon as it is read must not
    // find the default action (death without removing the socket file).
    let stop = stop_serving(listener.socket_file.as_ref())?;
    announce(&listener.endpoint)?;
    rt.block_on(server::run(listener, cfg, stop))?;
    Ok(true)
}

/// For `serve`: a first signal stops gracefully (the token), a second at once, removing the socket
/// file first (the serving loop may not have got to it yet).
fn stop_serving(socket_file: Option<&net::SocketFile>) -> std::io::Result<CancellationToken> {
    let remove_socket_file = socket_file.map(|f| f.remover());
    on_signals(
        || eprintln!("sockcheck serve: shutting down (again to stop at once)"),
        move || {
            if let Some(remove) = remove_socket_file {
                remove.remove();
            }
            eprintln!("sockcheck serve: stopped at once");
            std::process::exit(130);
        },
    )
}

/// `sockcheck serve --udp | --unix-dgram`: the same signals and announcement as the stream server.
fn serve_datagrams(endpoint: &crate::Endpoint, listen: &ListenOpts, cfg: ServerConfig) -> Result<bool> {
    server::datagram::check_config(&cfg)?;
    let rt = server::runtime_for(Mode::Sequential)?;
    let bound = net::bind_dgram(endpoint, listen)?;
    let stop = stop_serving(bound.socket_file.as_ref())?;
    announce(&bound.endpoint)?;
    rt.block_on(server::datagram::run(bound, cfg, stop))?;
    Ok(true)
}

/// `listening on ADDR`, flushed: scripts wait for this line.
fn announce(endpoint: &crate::Endpoint) -> std::io::Result<()> {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {endpoint}")?;
    stdout.flush()
}

/// `sockcheck client`.
pub fn client(args: ClientArgs) -> Result<bool> {
    let stdin = std::io::stdin();
    let cfg = client::ClientConfig {
        endpoint: args.addr.endpoint(),
        connect_timeout: Duration::from_secs(10),
        reply_timeout: args.timeout,
        prompt: stdin.is_terminal(),
        retries: args.retries,
    };
    let result = if cfg.endpoint.transport().is_datagram() {
        // A signal must not leave an AF_UNIX client's socket file behind (check-client stops
        // clients with SIGTERM): the handler removes the registered dir.
        exit_130_on_interrupt("the client stopped")?;
        let sock = net::StdDgram::for_server(&cfg.endpoint)?;
        if let Some(dir) = sock.dir() {
            process::register_dir(dir);
        }
        client::datagram::run(&cfg, &sock, stdin.lock(), std::io::stdout().lock())
    } else {
        client::run(&cfg, stdin, std::io::stdout().lock())
    };
    match result {
        Ok(()) => Ok(true),
        Err(client::ClientError::Setup(e)) => Err(e),
        Err(e) => {
            eprintln!("sockcheck client: {e}");
            Ok(false)
        }
    }
}

/// Whether `--output FILE` can be written, found out before the run without touching FILE: it is
/// created (or truncated) only once nothing is left to refuse, so a usage error leaves no empty
/// FILE and never empties an old one.
fn output_writable(report: &ReportOpts) -> Result<()> {
    let Some(path) = &report.output else { return Ok(()) };
    let cannot = |e: std::io::Error| Error::Usage(format!("cannot write {}: {e}", path.display()));
    if path.exists() {
        std::fs::OpenOptions::new().write(true).open(path).map_err(cannot)?;
    } else {
        std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(cannot)?;
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// A running server to check must be there: where nothing listens (or the path is no socket),
/// one line at once rather than a failure per scenario. Where the kernel cannot be asked, the
/// scenarios find out.
fn nothing_listens(endpoint: &crate::Endpoint) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if let crate::Endpoint::Unix(path) | crate::Endpoint::UnixDgram(path) = endpoint {
        match std::fs::metadata(path) {
            Err(e) => return Err(Error::Usage(format!("nothing listens at {endpoint}: {e}"))),
            Ok(m) if !m.file_type().is_socket() => {
                let kind = if m.is_dir() {
                    "a directory"
                } else if m.is_file() {
                    "a regular file"
                } else {
                    "a file"
                };
                return Err(Error::Usage(format!("{} is {kind}, not a socket", path.display())));
            }
            Ok(_) => {}
        }
    }
    match net::listeners::listening(endpoint) {
        Some(false) => Err(Error::Usage(format!(
            "nothing listens at {endpoint}{}",
            if endpoint.transport().is_datagram() { " (no socket is bound there)" } else { "" }
        ))),
        _ => Ok(()),
    }
}

/// A command to check or explore, started once first: a command that does not come up fails at
/// once (not once per scenario), and its model and greeting are probed. Every scenario (or
/// explore's worker) then starts its own.
struct Probed {
    opts: SpawnOpts,
    /// The transport it serves.
    transport: Transport,
    /// `` `CMD` (sequential, detected) over tcp ``.
    describe: String,
    /// When the server stopped after the probe.
    note: Option<String>,
}

fn probe_spawned(
    command: &str,
    transport: Option<Transport>,
    ready_timeout: Duration,
    model: Option<Mode>,
    transform: crate::Transform,
) -> Result<Probed> {
    let mut opts = SpawnOpts { transport, ready_timeout, model, transform, ..SpawnOpts::new(command.to_string()) };
    let mut probe = SpawnTarget::new(opts.clone())?;
    probe.start().map_err(|e| Error::Io(std::io::Error::other(format!("the server did not start: {e}"))))?;
    let transport = probe.endpoint().transport();
    let datagram = transport.is_datagram();
    if datagram {
        // One socket serves every datagram client.
        opts.model = Some(Mode::Sequential);
    } else {
        let found = target::probe(&probe.endpoint(), Duration::from_millis(500), transform);
        (opts.model, opts.greeting) = (model.or(found.model), found.greeting);
    }
    let said = match (model, opts.model) {
        (Some(m), _) => format!("{m}"),
        _ if datagram => "sequential: one datagram socket".to_string(),
        (None, Some(m)) => format!("{m}, detected"),
        (None, None) => "model unknown: the first client got no reply".to_string(),
    };
    let describe = format!("`{}` ({said}) over {transport}", probe.command_line());
    let note = probe.health(true).map(|e| {
        format!(
            "the server stopped after the model probe's connections closed ({e}): it serves one client, or \
             one at a time, and exits; every scenario gets a fresh one"
        )
    });
    let _ = probe.stop();
    Ok(Probed { opts, transport, describe, note })
}

/// `sockcheck check`.
pub fn check(args: CheckArgs) -> Result<bool> {
    let scenarios = check_scenarios(&args)?;
    let report = args.report.opts();
    output_writable(&report)?;
    let _run = interruptible()?;
    let (spec, what) = check_target(&args, scenarios.len())?;
    // Made once nothing is left to refuse: a usage error leaves no empty FILE behind.
    let output = report.create_output()?;
    let mut reporter = Reporter::open(report, output, scenarios.iter().map(|s| s.name()), &what)?;
    // A running server is one: its scenarios run one at a time unless --jobs says otherwise.
    let jobs = match (&spec, args.run.jobs) {
        (_, Some(n)) => n as usize,
        (TargetSpec::Address(_), None) => 1,
        (_, None) => engine::default_jobs(),
    };
    let opts = CheckOpts {
        run: RunOpts { step_timeout: args.timeout, ..Default::default() },
        jobs,
        retries: args.run.retries,
    };
    let mut outcomes = engine::check_servers(&scenarios, spec, opts, &mut reporter)?;
    for o in &mut outcomes {
        o.repro = Some(check_repro(&args, o));
    }
    finish(reporter, &outcomes, &args.run)
}

/// The scenarios `check` runs: the catalogue's (or a replayed file's) that match the filter, of
/// the transports' kind (stream or datagram).
fn check_scenarios(args: &CheckArgs) -> Result<Vec<crate::scenario::Scenario>> {
    let all = match &args.replay {
        Some(file) => explore::replayed_scenarios(file)?,
        None => catalogue::all(),
    };
    let mut scenarios = engine::select(all, &args.filter, |s| s.name());
    if scenarios.is_empty() {
        return Err(Error::Usage(format!("no scenario matches {:?}; see `sockcheck list`", args.filter)));
    }
    // Datagram scenarios only where a datagram transport is checked, stream ones likewise.
    let kinds: Vec<bool> = match (&args.addr.spawn, &args.transport) {
        (_, Some(ts)) => ts.0.iter().map(|t| t.is_datagram()).collect(),
        (Some(cmd), None) => vec![placeholders::transport_of(cmd, None)?.is_datagram()],
        (None, None) => match args.addr.running() {
            Some(running) => vec![running.transport().is_datagram()],
            None => vec![false, true],
        },
    };
    scenarios.retain(|s| kinds.contains(&s.needs.datagram));
    if scenarios.is_empty() {
        return Err(Error::Usage(format!("no scenario matches {:?} over these transports", args.filter)));
    }
    Ok(scenarios)
}

/// What `check` checks, and the words that introduce the run of `runs` scenarios.
fn check_target(args: &CheckArgs, runs: usize) -> Result<(TargetSpec, String)> {
    Ok(if let Some(command) = &args.addr.spawn {
        let transport = match args.transport.as_ref().map(|l| l.0.as_slice()) {
            None => None,
            Some([t]) => Some(*t),
            Some(_) => return Err(Error::Usage("--spawn takes one --transport: the one the command serves".into())),
        };
        let probed = probe_spawned(command, transport, args.ready_timeout, args.model, args.transform)?;
        let mut what = format!("{runs} scenarios against {}", probed.describe);
        if let Some(note) = probed.note {
            what += &format!("\nnote: {note}");
        }
        (TargetSpec::Spawn(probed.opts), what)
    } else if let Some(endpoint) = args.addr.running() {
        nothing_listens(&endpoint)?;
        let datagram = if endpoint.transport().is_datagram() { " (one datagram socket: sequential)" } else { "" };
        let what = format!("{runs} scenarios against the server at {endpoint}{datagram}");
        (TargetSpec::Address(AddressTarget { endpoint, model: args.model, transform: args.transform }), what)
    } else {
        let asked = args.transport.clone().map_or(Transport::DEFAULT.to_vec(), |l| l.0);
        // A transport this machine lacks (no IPv6 loopback, say) is left out with the reason;
        // asked for alone, it is an error.
        let (mut transports, mut lacking) = (vec![], String::new());
        for t in asked {
            match net::transport_unsupported(t) {
                None => transports.push(t),
                Some(why) => lacking += &format!("\nnote: {t} left out: {why}"),
            }
        }
        if transports.is_empty() {
            return Err(Error::Usage(lacking.trim_start_matches("\nnote: ").to_string()));
        }
        let models = args.model.map_or(vec![Mode::Sequential, Mode::Concurrent], |m| vec![m]);
        let what = format!(
            "{} scenarios against the built-in server ({}) over {}{lacking}",
            runs,
            models.iter().map(|m| m.name()).collect::<Vec<_>>().join(" and "),
            transports.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
        );
        (TargetSpec::Reference { transports, models, transform: args.transform }, what)
    })
}

/// The command that runs `o` again, alone.
fn check_repro(args: &CheckArgs, o: &crate::report::Outcome) -> String {
    let mut cmd = String::from("sockcheck check");
    if let Some(spawn) = &args.addr.spawn {
        cmd += &format!(" --spawn {}", shell_quote(spawn));
    } else if let Some(endpoint) = args.addr.running() {
        cmd += &format!(" {} {}", address_flag(&endpoint), shell_quote(&address_text(&endpoint)));
    }
    if let Some(file) = &args.replay {
        cmd += &format!(" --replay {}", shell_quote(&file.display().to_string()));
    }
    cmd += &format!(" --filter {}", o.scenario);
    if args.addr.running().is_none() {
        cmd += &format!(" --transport {}", o.transport);
    }
    if let Some(m) = args.model.or(o.model.filter(|_| args.addr.spawn.is_none())) {
        cmd += &format!(" --model {m}");
    }
    if args.transform != crate::Transform::Upper {
        cmd += &format!(" --transform {}", args.transform);
    }
    cmd
}

/// An address as `--tcp`, `--unix`, `--udp` or `--unix-dgram` take it.
fn address_text(endpoint: &crate::Endpoint) -> String {
    match endpoint {
        crate::Endpoint::Tcp(a) | crate::Endpoint::Udp(a) => a.to_string(),
        crate::Endpoint::Abstract(n) | crate::Endpoint::AbstractDgram(n) => format!("@{}", String::from_utf8_lossy(n)),
        crate::Endpoint::Unix(p) | crate::Endpoint::UnixDgram(p) => p.display().to_string(),
    }
}

/// The end of a run: the report, and whether it succeeded (no failure; no flaky one either
/// with `--flaky-fails`).
fn finish(reporter: Reporter, outcomes: &[crate::report::Outcome], run: &RunArgs) -> Result<bool> {
    let ok = reporter.finish(outcomes)?;
    Ok(ok && !(run.flaky_fails && outcomes.iter().any(|o| o.flaky())))
}

/// `sockcheck list`.
pub fn list(args: ListArgs) -> Result<bool> {
    let scenarios = engine::select(catalogue::all(), &args.filter, |s| s.name());
    if scenarios.is_empty() {
        return Err(Error::Usage(format!("no scenario matches {:?}; see `sockcheck list`", args.filter)));
    }
    let width = scenarios.iter().map(|s| s.name().len()).max().unwrap_or(0);
    for s in &scenarios {
        if args.code {
            println!("{}\n", s.to_code());
        } else {
            println!("{:<width$}  {}", s.name(), s.description());
        }
    }
    Ok(true)
}

/// `sockcheck check-client`.
pub fn check_client(args: CheckClientArgs) -> Result<bool> {
    let all = match &args.replay {
        Some(file) => explore::replayed_client_scenarios(file)?,
        None => client_catalogue::all(),
    };
    let mut scenarios = engine::select(all, &args.filter, |s| s.name());
    if args.list {
        let width = scenarios.iter().map(|s| s.name().len()).max().unwrap_or(0);
        for s in &scenarios {
            let over: Vec<&str> = Transport::DEFAULT.iter().filter(|&&t| s.runs_over(t)).map(|t| t.name()).collect();
            println!("{:<width$}  {:<26}  {}", s.name(), over.join(","), s.description());
        }
        return Ok(true);
    }
    if scenarios.is_empty() {
        return Err(Error::Usage(format!(
            "no client scenario matches {:?}; see `sockcheck check-client --list`",
            args.filter
        )));
    }
    let report = ReportOpts { command: "check-client", ..args.report.opts() };
    output_writable(&report)?;
    type CommandFor = Box<dyn Fn(Transport) -> ClientCommand>;
    let transports = client_transports(&args)?;
    // Datagram scenarios only where a datagram transport is checked, stream ones likewise.
    scenarios.retain(|s| transports.iter().any(|&t| s.runs_over(t)));
    if scenarios.is_empty() {
        return Err(Error::Usage(format!("no client scenario matches {:?} over these transports", args.filter)));
    }
    let runs = scenarios.len();
    let over = transports.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ");
    let (what, command): (String, CommandFor) = match &args.spawn {
        Some(cmd) => {
            let what = format!("{runs} client scenarios against `{cmd}` over {over}");
            let cmd = ClientCommand::spawn(cmd);
            (what, Box::new(move |_| cmd.clone()))
        }
        None => {
            let exe = std::env::current_exe()?;
            let what = format!("{runs} client scenarios against the built-in client over {over}");
            (what, Box::new(move |t| ClientCommand::reference(&exe, t)))
        }
    };
    let _run = interruptible()?;
    let output = report.create_output()?;
    let mut reporter = Reporter::open(report, output, scenarios.iter().map(|s| s.name()), &what)?;
    let opts = ClientOpts { step_timeout: args.timeout, prompt: args.prompt.clone(), stdio: args.stdio };
    let check = CheckOpts {
        run: RunOpts { step_timeout: args.timeout, ..Default::default() },
        jobs: args.run.jobs.map_or_else(engine::default_jobs, |n| n as usize),
        retries: args.run.retries,
    };
    let mut outcomes = engine::check_clients(&scenarios, command, &transports, opts, check, &mut reporter)?;
    for o in &mut outcomes {
        o.repro = Some(client_repro(&args, o));
    }
    finish(reporter, &outcomes, &args.run)
}

/// The transports `check-client` checks: the one the spawned client uses, or those asked for.
fn client_transports(args: &CheckClientArgs) -> Result<Vec<Transport>> {
    let transports = match (&args.spawn, args.transport.as_ref().map(|l| l.0.as_slice())) {
        (Some(cmd), None) => vec![placeholders::transport_of(cmd, None)?],
        (Some(cmd), Some([t])) => vec![placeholders::transport_of(cmd, Some(*t))?],
        (Some(_), Some(_)) => {
            return Err(Error::Usage("--spawn takes one --transport: the one the client uses".into()))
        }
        (None, list) => list.map_or(Transport::DEFAULT.to_vec(), <[Transport]>::to_vec),
    };
    if let Some(t) = transports.iter().find(|t| matches!(t, Transport::Abstract | Transport::AbstractDgram)) {
        return Err(Error::Usage(format!(
            "a client cannot be told an abstract name ({{path}} is a file path): use --transport {} instead of {t}",
            t.base()
        )));
    }
    if let Some(why) = transports.iter().find_map(|&t| net::transport_unsupported(t)) {
        return Err(Error::Usage(why));
    }
    Ok(transports)
}

/// The command that runs the client scenario `o` again, alone.
fn client_repro(args: &CheckClientArgs, o: &crate::report::Outcome) -> String {
    let spawn = args.spawn.as_ref().map(|c| format!(" --spawn {}", shell_quote(c))).unwrap_or_default();
    let mut prompt = args.prompt.as_ref().map(|p| format!(" --prompt {}", shell_quote(p))).unwrap_or_default();
    if args.stdio != ClientStdio::default() {
        prompt.push_str(&format!(" --stdio {}", args.stdio));
    }
    if let Some(file) = &args.replay {
        prompt.push_str(&format!(" --replay {}", shell_quote(&file.display().to_string())));
    }
    format!("sockcheck check-client{spawn} --filter {} --transport {}{prompt}", o.scenario, o.transport)
}

/// This process's command line as it could be typed again (the program by its file name).
pub fn command_line() -> String {
    let mut args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let program = args.next().unwrap_or_default();
    let program = std::path::Path::new(&program).file_name().map_or(program.clone(), |f| f.to_string_lossy().into());
    std::iter::once(shell_quote(&program)).chain(args.map(|a| shell_quote(&a))).collect::<Vec<_>>().join(" ")
}

/// `sockcheck report`: a saved JSON report rendered again, exiting as the saved run did (1 when a
/// scenario failed), so CI can gate on a saved report.
pub fn report(args: ReportFileArgs) -> Result<bool> {
    let file = args.file.display();
    let cannot_read = |e: std::io::Error| Error::Usage(format!("cannot read {file}: {e}"));
    let size = std::fs::metadata(&args.file).map_err(cannot_read)?.len();
    if size > crate::report::MAX_SAVED {
        return Err(Error::Usage(format!(
            "{file} is {} MiB; sockcheck reads reports of at most {} MiB (a run writes far less): is it a sockcheck JSON report?",
            size >> 20,
            crate::report::MAX_SAVED >> 20
        )));
    }
    let bytes = std::fs::read(&args.file).map_err(cannot_read)?;
    let saved = crate::report::read_json(&bytes)
        .map_err(|e| Error::Usage(format!("{file} is not a sockcheck JSON report: {e}")))?;
    let opts =
        ReportOpts { format: args.format, output: args.output, verbose: false, command_line: None, command: "report" };
    let mut out: Box<dyn Write> = match opts.create_output()? {
        Some(f) => Box::new(std::io::BufWriter::new(f)),
        None => Box::new(std::io::stdout().lock()),
    };
    crate::report::write_report_with(args.format, &saved.outcomes, &saved.meta, &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Error::write(opts.output.as_deref(), e))?;
    Ok(!saved.outcomes.iter().any(crate::report::Outcome::failed))
}

/// `sockcheck proxy`.
pub fn proxy(args: ProxyArgs) -> Result<bool> {
    let faults = Faults {
        slice: args.slice.map(|n| n as usize),
        delay: args.delay.map(Duration::from_millis),
        reset_after: args.reset_after,
        close_after: args.close_after,
        drop_every: args.drop_every,
        duplicate: args.duplicate,
        reorder: args.reorder,
    };
    let datagram = proxy::datagram_mode(&args.listen, &args.upstream)?;
    faults.check(datagram)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let opts = ListenOpts { backlog: 128, unix_mode: 0o600 };
    enum Bound {
        Stream(net::Listener),
        Datagram(net::DgramBound),
    }
    let (bound, endpoint) = if datagram {
        let b = net::bind_dgram(&args.listen, &opts)?;
        let e = b.endpoint.clone();
        (Bound::Datagram(b), e)
    } else {
        let l = net::bind(&args.listen, &opts)?;
        let e = l.endpoint.clone();
        (Bound::Stream(l), e)
    };
    let stop = on_signals(|| {}, || std::process::exit(130))?;
    announce(&endpoint)?;
    eprintln!("sockcheck proxy: forwarding to {} ({})", args.upstream, faults.describe());
    rt.block_on(async {
        match bound {
            Bound::Stream(l) => proxy::run(l, args.upstream, faults, true, stop).await,
            Bound::Datagram(b) => proxy::datagram::run(b, args.upstream, faults, true, stop).await,
        }
    })?;
    Ok(true)
}

/// `sockcheck bench`.
pub fn bench(args: BenchArgs) -> Result<bool> {
    bench::main(args)
}
