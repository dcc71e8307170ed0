//! Both catalogues as named tests. Every server scenario against the built-in reference server:
//! `<scenario>::<transport>::<model>`, e.g. `cargo test send_of_1m`; every client scenario against
//! the built-in client (the real `sockcheck client` binary): `<scenario>::<transport>`, over every
//! transport the scenario runs over (datagram ones over `udp` and `unix-dgram` only).
//! The models: `sequential`, `concurrent` (its first connections on threads of their own, as the
//! catalogue's few clients all are) and `concurrent-event-loop` (`--threads 0`: every connection on
//! the event loop, as the concurrent server has them when it holds more than 16).
//! Server scenarios run over every transport (`tcp`, `unix`, `udp`, `unix-dgram`, `tcp6`, `udp6`,
//! `abstract`, `abstract-dgram`); one this machine lacks (no IPv6 loopback, say) is listed as
//! ignored, with the reason printed first.
//! A failure prints the scenario's transcript.

use libtest_mimic::{Arguments, Failed, Trial};
use sockcheck::engine::{ClientCommand, ClientOpts, Engine, RunOpts};
use sockcheck::report::Outcome;
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::ReferenceTarget;
use sockcheck::Transform;

fn main() {
    sockcheck::net::raise_fd_limit();
    let mut args = Arguments::from_args();
    // The trials mostly wait (on deadlines, on silence): twelve at once take 4.5 s instead of 15 s
    // with one per CPU on 2 cores, with the same verdicts. `--test-threads` wins.
    if args.test_threads.is_none() {
        args.test_threads = Some(12);
    }
    let mut trials = vec![];
    for transport in Transport::EVERY {
        if let Some(why) = sockcheck::net::transport_unsupported(transport) {
            eprintln!("conformance: {transport} scenarios ignored: {why}");
        }
    }
    for scenario in sockcheck_scenarios::all() {
        for transport in Transport::EVERY {
            let lacking = sockcheck::net::transport_unsupported(transport).is_some();
            let models = [
                (Mode::Sequential, "sequential", 0),
                (Mode::Concurrent, "concurrent", sockcheck::server::DEFAULT_THREADS),
                (Mode::Concurrent, "concurrent-event-loop", 0),
            ];
            for (mode, label, threads) in models {
                // One socket serves every datagram client: sequential is its only model.
                if transport.is_datagram() && mode != Mode::Sequential {
                    continue;
                }
                if scenario.skip_reason(transport, Some(mode), true).is_some() {
                    continue;
                }
                let name = format!("{}::{transport}::{label}", scenario.name());
                let scenario = scenario.clone();
                trials.push(
                    Trial::test(name, move || {
                        let runner = Engine::new(RunOpts::default()).map_err(|e| Failed::from(e.to_string()))?;
                        let mut target = ReferenceTarget::new(transport, mode, Transform::Upper)
                            .map_err(|e| Failed::from(e.to_string()))?
                            .with_threads(threads);
                        verdict(runner.check(&scenario, &mut target))
                    })
                    .with_ignored_flag(lacking),
                );
            }
        }
    }
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_sockcheck"));
    for scenario in sockcheck::client_catalogue::all() {
        // Abstract names cannot be handed to a client program ({path} is a file path).
        let transports =
            Transport::EVERY.into_iter().filter(|&t| !matches!(t, Transport::Abstract | Transport::AbstractDgram));
        for transport in transports.filter(|&t| scenario.runs_over(t)) {
            let lacking = sockcheck::net::transport_unsupported(transport).is_some();
            let scenario = scenario.clone();
            trials.push(
                Trial::test(format!("{}::{transport}", scenario.name()), move || {
                    let engine = Engine::new(RunOpts::default()).map_err(|e| Failed::from(e.to_string()))?;
                    let cmd = ClientCommand::reference(exe, transport);
                    verdict(engine.check_client(&scenario, &cmd, transport, &ClientOpts::default()))
                })
                .with_ignored_flag(lacking),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// A pass, or the failure with its transcript.
fn verdict(outcome: Outcome) -> Result<(), Failed> {
    if outcome.passed() {
        Ok(())
    } else {
        Err(Failed::from(outcome.report()))
    }
}
