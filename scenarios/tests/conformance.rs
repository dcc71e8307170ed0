//! Every catalogue scenario as a named test against the built-in reference server:
//! `<scenario>::<transport>::<model>`, e.g. `cargo test -p sockcheck-scenarios send_of_1m`.
//! A failure prints the scenario's transcript.

use libtest_mimic::{Arguments, Failed, Trial};
use sockcheck::runner::{RunOpts, Runner};
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::ReferenceTarget;
use sockcheck::Transform;

fn main() {
    sockcheck::net::raise_fd_limit();
    let args = Arguments::from_args();
    let mut trials = vec![];
    for scenario in sockcheck_scenarios::all() {
        for transport in Transport::ALL {
            for mode in [Mode::Sequential, Mode::Concurrent] {
                if scenario.skip_reason(transport, Some(mode), true).is_some() {
                    continue;
                }
                let name = format!("{}::{transport}::{mode}", scenario.name());
                let scenario = scenario.clone();
                trials.push(Trial::test(name, move || {
                    let runner = Runner::new(RunOpts::default()).map_err(|e| Failed::from(e.to_string()))?;
                    let mut target = ReferenceTarget::new(transport, mode, Transform::Upper)
                        .map_err(|e| Failed::from(e.to_string()))?;
                    let outcome = runner.run(&scenario, &mut target);
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
