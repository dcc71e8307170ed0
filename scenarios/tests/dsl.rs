//! The DSL's builders, printers and payloads, checked value by value (no sockets, no runtime).
//!
//! Each builder method must add exactly its step or action, and `to_code` must print a scenario
//! back as the code that builds it; these tests compare whole texts so that a builder that drops
//! its step, or a printer that merges, skips or repeats a line, is caught (`cargo mutants -p
//! sockcheck-scenarios --test-package sockcheck-scenarios`).

use std::time::Duration;

use sockcheck_scenarios::dsl::client::*;
use sockcheck_scenarios::dsl::*;
use sockcheck_scenarios::{catalogue, datagram_catalogue};

#[test]
fn a_stream_scenario_built_with_every_builder_prints_back_as_its_code() {
    let s = Scenario::new("every_builder")
        .about("uses every builder")
        .needs_model(Mode::Concurrent)
        .restart_target()
        .client("a", |c| {
            c.connect_with_recv_buffer(1 << 12)
                .send("hi\n")
                .flush()
                .expect_reply_of("hi")
                .expect_reply_slowly(0, ms(20))
                .expect_partial_reply(1)
                .expect_silence(ms(50))
                .within(secs(2))
                .expect_eof()
                .half_close()
                .reset()
        })
        .client("a", |c| c.connect().expect_reply().vanish_mid_reply(10).wait(ms(5)).close())
        .client("b", |c| c.connect().send(pattern(2048)).expect_reply().close())
        .together(&["c", "d"], |c| c.connect().send(random(100, 7)).expect_reply())
        .repeat(3, |c| c.connect().send(&b"\xff\x00"[..]).close())
        .wait(ms(100))
        .stop_target()
        .put_at_path(PathFixture::RegularFile(b"notes\n".to_vec()))
        .expect_start_failure()
        .expect_at_path(PathFixture::StaleSocket)
        .clear_path()
        .start_target();
    let expected = [
        r#"Scenario::new("every_builder")"#,
        r#"    .about("uses every builder")"#,
        r#"    .needs_model(Mode::Concurrent)"#,
        r#"    .restart_target()"#,
        concat!(
            r#"    .client("a", |c| c.connect_with_recv_buffer(1 << 12).send("hi\n").flush()"#,
            r#".expect_reply_of("hi").expect_reply_slowly(1, ms(20)).expect_partial_reply(1)"#,
            r#".expect_silence(ms(50)).within(ms(2000)).expect_eof().half_close().reset()"#,
            r#".connect().expect_reply().vanish_mid_reply(10).wait(ms(5)).close())"#,
        ),
        r#"    .client("b", |c| c.connect().send(pattern(1 << 11)).expect_reply().close())"#,
        r#"    .together(&["c", "d"], |c| c.connect().send(random(100, 7)).expect_reply())"#,
        r#"    .repeat(3, |c| c.connect().send(&b"\xff\x00"[..]).close())"#,
        r#"    .wait(ms(100))"#,
        r#"    .stop_target()"#,
        r#"    .put_at_path(PathFixture::RegularFile(b"notes\n".to_vec()))"#,
        r#"    .expect_start_failure()"#,
        r#"    .expect_at_path(PathFixture::StaleSocket)"#,
        r#"    .clear_path()"#,
        r#"    .start_target()"#,
    ]
    .join("\n");
    assert_eq!(s.to_code(), expected);
    assert_eq!(s.description(), "uses every builder");
    // A fixture at the socket path pins the transport to the one with socket files.
    assert_eq!(s.needs.transport, Some(Transport::Unix));
    assert!(s.needs.control);
}

#[test]
fn a_datagram_scenario_built_with_every_datagram_builder_prints_back_as_its_code() {
    let s = Scenario::new("every_datagram_builder").datagrams().only_over(Transport::Udp).client("a", |c| {
        c.send_datagram(all_bytes()).expect_datagram_reply().expect_no_datagram(ms(30)).burst(10, 4).vanish()
    });
    let expected = [
        r#"Scenario::new("every_datagram_builder")"#,
        r#"    .datagrams()"#,
        r#"    .client("a", |c| c.send_datagram(all_bytes()).expect_datagram_reply().expect_no_datagram(ms(30)).burst(10, 8).vanish())"#,
        r#"    .only_over(Transport::Udp)"#,
    ]
    .join("\n");
    assert_eq!(s.to_code(), expected);
    assert_eq!(s.description(), "");
}

#[test]
fn a_scenario_with_only_a_name_prints_as_its_constructor() {
    assert_eq!(Scenario::new("bare").to_code(), r#"Scenario::new("bare")"#);
}

#[test]
fn consecutive_blocks_of_the_first_client_print_as_one_block() {
    let s = Scenario::new("merge").client("a", |c| c.connect()).client("a", |c| c.close()).client("b", |c| c.connect());
    let expected = concat!(
        "Scenario::new(\"merge\")\n",
        "    .client(\"a\", |c| c.connect().close())\n",
        "    .client(\"b\", |c| c.connect())",
    );
    assert_eq!(s.to_code(), expected);
}

#[test]
fn a_client_scenario_built_with_every_builder_prints_back_as_its_code() {
    let s = ClientScenario::new("every_client_builder")
        .about("uses every client builder")
        .any_transport()
        .serve(reply_in_pieces(0, ms(5)))
        .steps(|c| {
            c.type_line("hello")
                .type_lines(["a", "b"])
                .expect_replies()
                .within(secs(3))
                .expect_printed(["HELLO"])
                .expect_sent(["hello\n"])
                .expect_idle(ms(200))
                .end_input()
                .expect_exit(Exit::Success)
                .expect_no_traceback()
                .expect_message()
                .expect_reply_or_give_up()
        });
    let expected = concat!(
        "ClientScenario::new(\"every_client_builder\")\n",
        "    .about(\"uses every client builder\")\n",
        "    .any_transport()\n",
        "    .serve(reply_in_pieces(1, ms(5)))\n",
        r#"    .steps(|c| c.type_line("hello").type_line("a").type_line("b").expect_replies().within(ms(3000))"#,
        r#".expect_printed(["HELLO"]).expect_sent(["hello\n"]).expect_idle(ms(200)).end_input()"#,
        r#".expect_exit(Exit::Success).expect_no_traceback().expect_message().expect_reply_or_give_up())"#,
    );
    assert_eq!(s.to_code(), expected);
    assert_eq!(s.description(), "uses every client builder");
}

#[test]
fn payload_len_and_is_empty_agree_with_the_bytes_of_every_kind() {
    let cases = [
        (Payload::from(""), 0),
        (Payload::from("abc"), 3),
        (Payload::from(vec![0u8; 5]), 5),
        (pattern(0), 0),
        (pattern(70), 70),
        (random(0, 1), 0),
        (random(9, 1), 9),
        (all_bytes(), 256),
    ];
    for (payload, len) in cases {
        assert_eq!(payload.len(), len, "{payload:?}");
        assert_eq!(payload.bytes().len(), len, "{payload:?}");
        assert_eq!(payload.is_empty(), len == 0, "{payload:?}");
    }
}

#[test]
fn random_payloads_are_the_splitmix64_stream_of_their_seed() {
    // The first two outputs of splitmix64 seeded with 0 (Vigna's reference implementation), little-endian.
    let first = 0xE220_A839_7B1D_CDAFu64.to_le_bytes();
    let second = 0x6E78_9E6A_A1B9_65F4u64.to_le_bytes();
    let expected: Vec<u8> = first.iter().chain(&second[..4]).copied().collect();
    assert_eq!(random(12, 0).bytes(), expected);
}

#[test]
fn payloads_debug_print_as_their_code() {
    assert_eq!(format!("{:?}", pattern(5)), "pattern(5)");
    assert_eq!(format!("{:?}", Payload::from("x")), r#""x""#);
}

#[test]
fn only_sizes_of_at_least_1024_that_are_powers_of_two_print_as_shifts() {
    assert_eq!(pattern(512).to_code(), "pattern(512)");
    assert_eq!(pattern(1000).to_code(), "pattern(1000)");
    assert_eq!(pattern(1024).to_code(), "pattern(1 << 10)");
    assert_eq!(pattern(3000).to_code(), "pattern(3000)");
}

#[test]
fn exactly_the_datagram_steps_are_of_the_datagram_vocabulary() {
    let datagram = [
        Step::SendDatagram(pattern(1)),
        Step::ExpectDatagramReply,
        Step::ExpectNoDatagram(ms(1)),
        Step::Burst { count: 1, size: 8 },
        Step::Vanish,
    ];
    let stream = [
        Step::Connect,
        Step::ConnectWithRecvBuffer(1),
        Step::Send(pattern(1)),
        Step::Flush,
        Step::ExpectReply { of: None, slowly: None },
        Step::ExpectPartialReply(1),
        Step::ExpectSilence(ms(1)),
        Step::ExpectEof,
        Step::HalfClose,
        Step::Close,
        Step::Reset,
        Step::VanishMidReply { after: 1 },
        Step::Wait(ms(1)),
    ];
    for step in &datagram {
        assert!(step.is_datagram(), "{step:?}");
    }
    for step in &stream {
        assert!(!step.is_datagram(), "{step:?}");
    }
}

#[test]
fn ms_and_secs_are_the_durations_they_name() {
    assert_eq!(ms(1500), Duration::from_millis(1500));
    assert_eq!(secs(3), Duration::from_secs(3));
}

#[test]
fn find_returns_the_scenario_of_each_name_and_none_for_an_unknown_one() {
    for s in catalogue::all() {
        assert_eq!(catalogue::find(s.name()).map(|f| f.name().to_string()), Some(s.name().to_string()));
    }
    assert!(catalogue::find("no_such_scenario").is_none());
}

#[test]
fn the_catalogue_ends_with_the_datagram_scenarios_and_only_they_need_datagrams() {
    let datagram = datagram_catalogue::all();
    assert!(!datagram.is_empty());
    assert!(datagram.iter().all(|s| s.needs.datagram));
    let stream = catalogue::stream();
    assert!(stream.iter().all(|s| !s.needs.datagram));
    let mut both = stream;
    both.extend(datagram);
    assert_eq!(catalogue::all(), both);
}
