//! Every catalogue scenario as a named test against the built-in reference server:
//! `<scenario>::<transport>::<model>`, e.g. `cargo test -p sockcheck-scenarios send_of_1m`.
//! The models: `sequential`, `concurrent` (its first connections on threads of their own, as the
//! catalogue's few clients all are) and `concurrent-event-loop` (`--threads 0`: every connection on
//! the event loop, as the concurrent server has them when it holds more than 16).
//! A failure prints the scenario's transcript.

use libtest_mimic::{Arguments, Failed, Trial};
use sockcheck::engine::{Engine, RunOpts};
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::ReferenceTarget;
use sockcheck::Transform;

fn main() {
    sockcheck::net::raise_fd_limit();
    let args = Arguments::from_args();
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
                trials.push(Trial::test(name, move || {
                    let runner = Engine::new(RunOpts::default()).map_err(|e| Failed::from(e.to_string()))?;
                    let mut target = ReferenceTarget::new(transport, mode, Transform::Upper)
                        .map_err(|e| Failed::from(e.to_string()))?
                        .with_threads(threads);
                    let outcome = runner.check(&scenario, &mut target);
                    if outcome.passed() {
                        Ok(())
                    } else {
                        Err(Failed::from(outcome.report()))
                    }
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
