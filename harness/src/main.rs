//! The `sockcheck` command line: parse with clap, call the subcommand, map errors to exit codes.

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Parser;
use sockcheck::cli::{self, Cli, Command};

fn main() -> ExitCode {
    sockcheck::report::start_clock();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    // Every subcommand may open many sockets: no user should need `ulimit -n` for 1,000 connections.
    sockcheck::net::raise_fd_limit();
    let result = match cli.command {
        Command::Serve(args) => cli::serve(args),
        Command::Client(args) => cli::client(args),
        Command::Check(args) => cli::check(args),
        Command::List(args) => cli::list(args),
        Command::CheckClient(args) => cli::check_client(args),
        Command::Explore(args) => cli::explore(args),
        Command::ExploreClient(args) => cli::explore_client(args),
        Command::Proxy(args) => cli::proxy(args),
        Command::Bench(args) => cli::bench(args),
        Command::Report(args) => cli::report(args),
        Command::Completions(args) => cli::completions(args),
        Command::Man(args) => cli::man(args),
    };
    if cli::INTERRUPTED.load(Ordering::SeqCst) {
        // The run ended because its program was killed by the interrupt watcher, which exits 130
        // once its cleanup is done: leave the exit to it.
        loop {
            std::thread::park();
        }
    }
    for note in cli::escaped_notes() {
        eprintln!("sockcheck: note: {note}");
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sockcheck: error: {e}");
            ExitCode::from(e.exit_code() as u8)
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
