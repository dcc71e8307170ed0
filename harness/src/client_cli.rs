//! `sockcheck check-client` and `sockcheck proxy`: argument parsing and output; the work is done by
//! [`sockcheck::client_check`] and [`sockcheck::proxy`].

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sockcheck::client_check::{self, ClientCommand, ClientOpts};
use sockcheck::net::{self, ListenOpts};
use sockcheck::proxy::{self, Faults};
use sockcheck::{Endpoint, Transport};

#[derive(Args)]
pub struct CheckClientArgs {
    /// The client to check, run through `sh -c` with {host} {port} {addr} (TCP) or {path} (Unix)
    /// filled in, e.g. "python3 client.py {port}" (default: the built-in client)
    #[arg(long, value_name = "CMD")]
    spawn: Option<String>,
    /// The transport (default: from the placeholders of CMD; both for the built-in client)
    #[arg(long)]
    transport: Option<Transport>,
    /// Only scenarios whose name contains TEXT (repeatable)
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
    /// Seconds a step may wait for the client (its output, its exit)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = super::parse_secs)]
    timeout: Duration,
    /// A prompt the client prints before each line (e.g. ">>:"), ignored at the start of output lines
    #[arg(long, value_name = "TEXT")]
    prompt: Option<String>,
    /// List the client scenarios and exit
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    report: super::ReportArgs,
}

/// The client command for a transport.
type CommandFor = Box<dyn Fn(Transport) -> ClientCommand>;

pub fn check_client(args: CheckClientArgs) -> anyhow::Result<ExitCode> {
    let scenarios = client_check::select(sockcheck::client_catalogue::all(), &args.filter);
    if args.list {
        let width = scenarios.iter().map(|s| s.name().len()).max().unwrap_or(0);
        for s in &scenarios {
            println!("{:<width$}  {}", s.name(), s.description());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if scenarios.is_empty() {
        return Err(sockcheck::Error::Usage(format!(
            "no client scenario matches {:?}; see `sockcheck check-client --list`",
            args.filter
        ))
        .into());
    }
    let output = args.report.open_output()?;
    let (transports, what, command): (Vec<Transport>, String, CommandFor) = match &args.spawn {
        Some(cmd) => {
            let transport = sockcheck::spawn::transport_of(cmd, args.transport)?;
            let what = format!("{} client scenarios against `{cmd}` over {transport}", scenarios.len());
            let cmd = ClientCommand::spawn(cmd);
            (vec![transport], what, Box::new(move |_| cmd.clone()))
        }
        None => {
            let exe = std::env::current_exe()?;
            let transports = args.transport.map_or(Transport::ALL.to_vec(), |t| vec![t]);
            let what = format!(
                "{} client scenarios against the built-in client over {}",
                scenarios.len(),
                transports.iter().map(|t| t.name()).collect::<Vec<_>>().join(" and ")
            );
            (transports, what, Box::new(move |t| ClientCommand::reference(&exe, t)))
        }
    };
    super::exit_130_on_interrupt("the client was stopped", client_check::interrupted)?;
    let opts = ClientOpts { step_timeout: args.timeout, prompt: args.prompt.clone() };
    super::reported(&args.report, output, scenarios.iter().map(|s| s.name()), &what, |started, each| {
        client_check::run_all_observed(&scenarios, command, &transports, opts, |s, t| started(s.name(), t), each)
    })
}

fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse(s).map_err(|e| e.to_string())
}

#[derive(Args)]
pub struct ProxyArgs {
    /// Where clients connect: HOST:PORT, tcp://HOST:PORT, unix:PATH or @NAME
    #[arg(long, value_name = "ADDR", value_parser = parse_endpoint)]
    listen: Endpoint,
    /// The server to forward to, same forms
    #[arg(long, value_name = "ADDR", value_parser = parse_endpoint)]
    upstream: Endpoint,
    /// Forward in pieces of at most N bytes, each written on its own (both directions)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    slice: Option<u64>,
    /// Milliseconds to pause before each piece (both directions)
    #[arg(long, value_name = "MS", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    delay: Option<u64>,
    /// Reset the client's connection (RST) after this many bytes went to it
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, conflicts_with = "close_after", value_parser = clap::value_parser!(u64))]
    reset_after: Option<u64>,
    /// Close the client's connection cleanly (FIN) after this many bytes went to it
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = clap::value_parser!(u64))]
    close_after: Option<u64>,
}

pub fn proxy(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let faults = Faults {
        slice: args.slice.map(|n| n as usize),
        delay: args.delay.map(Duration::from_millis),
        reset_after: args.reset_after,
        close_after: args.close_after,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = net::bind(&args.listen, &ListenOpts { backlog: 128, unix_mode: 0o600 })?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on {}", listener.endpoint)?;
        stdout.flush()?;
        eprintln!("sockcheck proxy: forwarding to {} ({})", args.upstream, faults.describe());
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            token.cancel();
        });
        proxy::run(listener, args.upstream, faults, true, stop).await.map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}
