//! Both catalogues as named tests. Every server scenario against the built-in reference server:
//! `<scenario>::<transport>::<model>`, e.g. `cargo test send_of_1m`; every client scenario against
//! the built-in client (the real `sockcheck client` binary): `<scenario>::<transport>`, over every
//! transport the scenario runs over (datagram ones over `udp` and `unix-dgram` only).
//! The models: `sequential`, `concurrent` (its first connections on threads of their own, as the
//! catalogue's few clients all are) and `concurrent-event-loop` (`--threads 0`: every connection on
//! the event loop, as the concurrent server has them when it holds more than 16).
//! Server scenarios run over every transport (`tcp`, `unix`, `udp`, `unix-dgram`, `tcp6`, `udp6`,
//! `abstract`, `abstract-dgram`); one this machine lacks (no IPv6 loopback, say) is listed as
//! ignored with the reason.
//! A failure prints the scenario's transcript. The trials are `sockcheck::testing`'s, as a
//! user's own `cargo test` gets them (twelve at once: they mostly wait, on deadlines and silence,
//! and take 4.5 s instead of 15 s with one per CPU on 2 cores, with the same verdicts).

use sockcheck::engine::{ClientCommand, ClientOpts, Engine, RunOpts};
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::ReferenceTarget;
use sockcheck::testing::{outcome_trial, run_trials, Played};
use sockcheck::Transform;

fn main() {
    sockcheck::net::raise_fd_limit();
    let mut trials = vec![];
    for scenario in sockcheck_scenarios::all() {
        for transport in Transport::EVERY {
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
                trials.push(outcome_trial(name, move || {
                    if let Some(why) = sockcheck::net::transport_unsupported(transport) {
                        return Ok(Played::Skipped(why));
                    }
                    let runner = Engine::new(RunOpts::default())?;
                    let mut target = ReferenceTarget::new(transport, mode, Transform::Upper)?.with_threads(threads);
                    Ok(Played::Ran(Box::new(runner.check(&scenario, &mut target))))
                }));
            }
        }
    }
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_sockcheck"));
    for scenario in sockcheck::client_catalogue::all() {
        // Abstract names cannot be handed to a client program ({path} is a file path).
        let transports =
            Transport::EVERY.into_iter().filter(|&t| !matches!(t, Transport::Abstract | Transport::AbstractDgram));
        for transport in transports.filter(|&t| scenario.runs_over(t)) {
            let scenario = scenario.clone();
            trials.push(outcome_trial(format!("{}::{transport}", scenario.name()), move || {
                if let Some(why) = sockcheck::net::transport_unsupported(transport) {
                    return Ok(Played::Skipped(why));
                }
                let engine = Engine::new(RunOpts::default())?;
                let cmd = ClientCommand::reference(exe, transport);
                Ok(Played::Ran(Box::new(engine.check_client(&scenario, &cmd, transport, &ClientOpts::default()))))
            }));
        }
    }
    run_trials(trials)
}
