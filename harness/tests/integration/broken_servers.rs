//! Proof that the catalogue catches broken servers: each server here has one of the bugs real
//! servers of the tutorial's kind have, and must fail exactly the scenarios meant for it, over
//! TCP and Unix sockets; a correct server written the same blocking way must pass everything.
//!
//! The servers are small blocking programs, written the way the tutorial writes its server
//! (accept loop around a recv/send loop), so they behave like a student's Python script would.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::servers::*;
use crate::support::{par_map, JOBS};
use sockcheck::engine::{Engine, RunOpts};
use sockcheck::facts::Cause;
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::FnTarget;

struct Case {
    name: &'static str,
    handler: Handler,
    bind: Bind,
    model: Mode,
    /// Scenarios it must fail, per transport.
    must_fail: &'static [(&'static str, &'static [Transport])],
    /// Scenarios it may also fail, depending on timing (never counted as caught).
    may_fail: &'static [&'static str],
}

const BOTH: &[Transport] = &[Transport::Tcp, Transport::Unix];

fn run_case(case: &Case) {
    // The transports run side by side: most of the time goes to waiting out broken servers.
    let problems: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = Transport::ALL.map(|t| scope.spawn(move || run_transport(case, t))).into();
        runs.into_iter().filter_map(|r| r.join().expect("transport thread panicked")).collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Run the catalogue against the case's server over one transport; `Some` describes a mismatch.
fn run_transport(case: &Case, transport: Transport) -> Option<String> {
    let concurrent = case.model == Mode::Concurrent;
    let (handler, bind) = (case.handler, case.bind);
    // Every scenario gets a server of its own, as `check --spawn` gives each a fresh process.
    let outcomes = par_map(&sockcheck_scenarios::all(), JOBS, |scenario| {
        let runner = Engine::new(RunOpts { step_timeout: Duration::from_secs(1), ..Default::default() }).unwrap();
        let mut target =
            FnTarget::new(case.name, transport, Some(case.model), move |ep| start(ep, bind, handler, concurrent))
                .unwrap();
        let outcome = runner.check(scenario, &mut target);
        let _ = sockcheck::target::Target::stop(&mut target);
        outcome
    });
    let mut failed = BTreeSet::new();
    let mut reports = vec![];
    for outcome in outcomes.iter().filter(|o| o.failed()) {
        failed.insert(outcome.scenario.clone());
        reports.push(outcome.report());
    }
    let must: BTreeSet<String> =
        case.must_fail.iter().filter(|(_, ts)| ts.contains(&transport)).map(|(n, _)| n.to_string()).collect();
    let missed: Vec<_> = must.difference(&failed).collect();
    let extra: Vec<_> = failed.iter().filter(|f| !must.contains(*f) && !case.may_fail.contains(&f.as_str())).collect();
    (!missed.is_empty() || !extra.is_empty()).then(|| {
        format!(
            "{} over {transport}: not caught by {missed:?}; wrongly failed {extra:?}\n{}",
            case.name,
            reports.join("\n")
        )
    })
}

#[test]
fn a_correct_blocking_server_passes_everything() {
    run_case(&Case {
        name: "correct (sequential)",
        handler: correct,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[],
        may_fail: &[],
    });
}

#[test]
fn a_correct_thread_per_client_server_passes_everything() {
    run_case(&Case {
        name: "correct (thread per client)",
        handler: correct,
        bind: bind_safely,
        model: Mode::Concurrent,
        must_fail: &[],
        may_fail: &[],
    });
}

#[test]
fn answering_only_the_first_recv_is_caught() {
    run_case(&Case {
        name: "first recv only",
        handler: first_recv_only,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("several_messages_on_one_connection", BOTH),
            ("message_of_only_whitespace_is_echoed", BOTH),
            ("command_words_are_echoed_like_any_text", BOTH),
            ("send_of_64k_comes_back_whole", BOTH),
            ("send_of_1m_comes_back_whole", BOTH),
            ("send_of_16m_comes_back_whole", BOTH),
            ("every_byte_value_is_preserved", BOTH),
            // The reset now comes while A's reply is streaming: 64 KiB of it never come.
            ("reset_client_does_not_stop_the_server", BOTH),
            ("client_vanishing_mid_reply_does_not_stop_the_server", BOTH),
            ("half_close_still_gets_the_whole_reply", BOTH),
            ("slow_reader_loses_nothing", BOTH),
            ("queued_clients_are_served_in_arrival_order", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn spinning_on_eof_is_caught() {
    run_case(&Case {
        name: "spins on EOF",
        handler: spins_on_eof,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("empty_recv_ends_the_connection", BOTH),
            ("second_client_is_served_after_the_first_closes", BOTH),
            ("thousand_short_connections_in_a_row", BOTH),
            ("half_close_still_gets_the_whole_reply", BOTH),
            ("queued_clients_are_served_in_arrival_order", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn dying_on_a_reset_is_caught() {
    run_case(&Case {
        name: "dies on reset",
        handler: dies_on_reset,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("reset_client_does_not_stop_the_server", BOTH),
            ("client_vanishing_mid_reply_does_not_stop_the_server", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn dropping_data_when_writes_would_block_is_caught() {
    run_case(&Case {
        name: "drops data when writes would block",
        handler: drops_when_writes_block,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[("slow_reader_loses_nothing", BOTH)],
        // Big streams lose bytes too whenever the client reads slower than the server writes.
        may_fail: &[
            "send_of_1m_comes_back_whole",
            "send_of_16m_comes_back_whole",
            "half_close_still_gets_the_whole_reply",
        ],
    });
}

#[test]
fn binding_without_so_reuseaddr_is_caught() {
    run_case(&Case {
        name: "no SO_REUSEADDR",
        handler: correct,
        bind: bind_without_reuseaddr,
        model: Mode::Sequential,
        must_fail: &[("restarted_server_binds_at_once", &[Transport::Tcp])],
        may_fail: &[],
    });
}

#[test]
fn mixing_bytes_between_clients_is_caught() {
    run_case(&Case {
        name: "mixes clients",
        handler: mixes_clients,
        bind: bind_safely,
        model: Mode::Concurrent,
        must_fail: &[("concurrent_clients_are_served_at_once", BOTH)],
        // A vanished client's connection may still be busy when the next one starts.
        may_fail: &["client_vanishing_mid_reply_does_not_stop_the_server", "reset_client_does_not_stop_the_server"],
    });
}

#[test]
fn leaking_a_descriptor_per_connection_is_caught() {
    run_case(&Case {
        name: "leaks descriptors",
        handler: leaks_descriptors,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("empty_recv_ends_the_connection", BOTH),
            ("thousand_short_connections_in_a_row", BOTH),
            ("half_close_still_gets_the_whole_reply", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn deleting_whatever_is_at_the_socket_path_is_caught() {
    run_case(&Case {
        name: "deletes the file at its path",
        handler: correct,
        bind: bind_deleting_path,
        model: Mode::Sequential,
        must_fail: &[("regular_file_at_socket_path_is_kept", &[Transport::Unix])],
        may_fail: &[],
    });
}

/// Hostile targets fail the scenario with a clear reason, within the step deadline: the harness
/// neither hangs nor blames the wrong thing.
#[test]
fn hostile_servers_fail_with_a_clear_reason_in_time() {
    let step_timeout = Duration::from_secs(1);
    let runner = Engine::new(RunOpts { step_timeout, ..Default::default() }).unwrap();
    let scenario = sockcheck_scenarios::find("several_messages_on_one_connection").unwrap();
    // Whether the extra newline arrives with the reply or in place of the next reply's first
    // byte, the cause is the same; and whether a close with the message unread goes out as FIN or
    // RST.
    let cases: [(&str, Handler, &[Cause]); 6] = [
        ("greets unasked", greets_unasked, &[Cause::Greeting]),
        ("appends a newline", appends_newline, &[Cause::LineEndingAdded]),
        ("sends garbage", sends_garbage, &[Cause::ReplyChanged]),
        ("closes at once", closes_at_once, &[Cause::ClosedWithoutReply]),
        ("never answers", never_answers, &[Cause::NoReply]),
        // It sends before it is asked, on every connection: what the probe after the failure sees.
        ("floods", floods, &[Cause::Greeting]),
    ];
    for (name, handler, reason) in cases {
        for transport in Transport::ALL {
            let mut target = FnTarget::new(name, transport, Some(Mode::Sequential), move |ep| {
                start(ep, bind_safely, handler, false)
            })
            .unwrap();
            let outcome = runner.check(&scenario, &mut target);
            assert!(outcome.failed(), "{name} over {transport} passed");
            let summary = outcome.summary();
            let cause = outcome.failure.as_ref().expect("a failure").cause;
            assert!(reason.contains(&cause), "{name} over {transport}: {cause:?}: {summary}");
            assert!(summary.contains("client `a`, step") && summary.contains("`expect_reply()`"), "{name}: {summary}");
            assert!(outcome.duration < step_timeout + Duration::from_secs(2), "{name}: took {:?}", outcome.duration);
        }
    }
}
