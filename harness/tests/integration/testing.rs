//! `sockcheck::testing`: the catalogue from a Rust project's own tests (the example crate
//! `examples/echo-server-example` runs it as tests; these check what it decides).

use std::time::Duration;

use sockcheck::testing::Suite;

use crate::support::BIN;

#[test]
fn without_a_model_the_server_is_probed_and_only_the_other_models_scenarios_are_skipped() {
    let outcomes = Suite::program(BIN, ["serve", "--tcp", "{addr}", "--mode", "sequential"])
        .filter("queued_clients")
        .filter("concurrent_clients")
        .outcomes()
        .unwrap();
    let verdicts: Vec<(String, String)> = outcomes
        .iter()
        .map(|o| (o.scenario.clone(), o.report().split_whitespace().next().unwrap_or("").to_string()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("queued_clients_are_served_in_arrival_order".to_string(), "PASS".to_string()),
            ("concurrent_clients_are_served_at_once".to_string(), "SKIP".to_string())
        ]
    );
}

#[test]
fn a_serve_function_that_returns_at_once_fails_and_the_report_says_so() {
    let outcomes =
        Suite::serve(|_listener| Ok(())).filter("short_message").timeout(Duration::from_secs(1)).outcomes().unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].failed(), "{}", outcomes[0].report());
    assert!(outcomes[0].report().contains("the serve function returned"), "{}", outcomes[0].report());
}

#[test]
fn a_command_that_names_no_address_is_refused_with_the_reason() {
    let err = Suite::spawn("true").outcomes().unwrap_err().to_string();
    assert!(err.contains("does not say where to listen"), "{err}");
}
