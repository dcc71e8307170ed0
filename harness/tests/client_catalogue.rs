//! The client catalogue against the reference client (the real `sockcheck client` binary), one
//! named test per scenario and transport: `<scenario>::<transport>`, e.g.
//! `cargo test -p sockcheck --test client_catalogue utf8`. A failure prints the transcript.

use libtest_mimic::{Arguments, Failed, Trial};
use sockcheck::engine::{ClientCommand, ClientOpts, Engine, RunOpts};
use sockcheck::Transport;

fn main() {
    let args = Arguments::from_args();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_sockcheck"));
    let mut trials = vec![];
    for scenario in sockcheck::client_catalogue::all() {
        for transport in Transport::ALL {
            let scenario = scenario.clone();
            trials.push(Trial::test(format!("{}::{transport}", scenario.name()), move || {
                let engine = Engine::new(RunOpts::default()).map_err(|e| Failed::from(e.to_string()))?;
                let cmd = ClientCommand::reference(exe, transport);
                let outcome = engine.check_client(&scenario, &cmd, transport, &ClientOpts::default());
                if outcome.passed() {
                    Ok(())
                } else {
                    Err(Failed::from(outcome.report()))
                }
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
