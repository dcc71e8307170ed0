//! The classifier on recorded facts: no sockets, no programs. Each case is a fact as a step
//! records it, in the situation it was seen in.

use super::*;
use crate::facts::{error_line, Bytes, Difference, Ending, IoFault, IoKind, Micros, Served, Unit};

fn ctx() -> Context {
    Context::default()
}

fn wrong_reply(expected: &[u8], got: &[u8], base: u64) -> Fact {
    Fact::WrongReply { diff: Difference::between(Unit::Stream, expected, got, base) }
}

#[test]
fn a_line_ending_after_the_reply_is_named_so_however_it_arrives() {
    // Java's println: "HELLO\n" for "hello". Read with the reply, or at the start of the next.
    let more = Fact::MoreThanReply { bytes: Bytes::of(b"\n"), reply: 5, at: 5 };
    assert_eq!(classify(&more, &ctx()), Cause::LineEndingAdded);
    let next = wrong_reply(b"WORLD", b"\nWORL", 6);
    assert_eq!(classify(&next, &ctx()), Cause::LineEndingAdded);
    // At the very start of the connection too: a reply asked for is not a greeting.
    let first = wrong_reply(b"HELLO", b"HELLO\n", 0);
    assert_eq!(classify(&first, &ctx()), Cause::LineEndingAdded);
}

#[test]
fn bytes_are_a_greeting_only_when_the_server_sends_them_unasked() {
    let greeting = b"Welcome to the echo server\r\n".to_vec();
    let fact = wrong_reply(b"HELLO", b"Welcome", 0);
    assert_eq!(classify(&fact, &ctx()), Cause::ReplyChanged, "no probe saw a greeting");
    let with = Context { greeting: Some(greeting.clone()), ..ctx() };
    assert_eq!(classify(&fact, &with), Cause::Greeting);
    // Further into the stream the same bytes are a wrong reply, greeting or not.
    assert_eq!(classify(&wrong_reply(b"HELLO", b"Welcome", 10), &with), Cause::ReplyChanged);
    assert_eq!(classify(&Fact::Unasked { bytes: Bytes::of(&greeting) }, &ctx()), Cause::Greeting);
    // A greeting that starts like the reply: the reply seems whole, then the rest of the greeting.
    let more = Fact::MoreThanReply { bytes: Bytes::of(b"\r\nhello"), reply: 5, at: 5 };
    let hello = Context { greeting: Some(b"hello\r\n".to_vec()), ..ctx() };
    assert_eq!(classify(&more, &hello), Cause::Greeting);
    // And a server that greets, then dies when the failed client leaves, is a greeting server.
    let died = Context { end: Some(TargetEnd::Exited { status: ProcStatus::Exited(1) }), ..hello };
    assert_eq!(classify(&wrong_reply(b"HELLO", b"hello\r\nHEL", 0), &died), Cause::Greeting);
}

#[test]
fn a_shifted_stream_is_a_changed_reply_at_its_real_offset() {
    let expected: Vec<u8> = (0..4096u32).map(|i| b'A' + (i % 26) as u8).collect();
    let mut got = expected.clone();
    got.remove(1000); // one byte lost: everything after it shifts
    let fact = wrong_reply(&expected, &got, 16 << 20);
    let Fact::WrongReply { diff } = &fact else { unreachable!() };
    assert_eq!(diff.at, (16 << 20) + 1000);
    assert_eq!(diff.expected_byte(), Some(expected[1000]));
    assert_eq!(diff.got_byte(), Some(expected[1001]));
    assert_eq!(classify(&fact, &ctx()), Cause::ReplyChanged);
}

#[test]
fn lowercase_where_uppercase_belongs_is_not_uppercased() {
    assert_eq!(classify(&wrong_reply(b"HELLO", b"hello", 0), &ctx()), Cause::NotUppercased);
}

#[test]
fn an_http_answer_is_not_an_echo_server() {
    let fact = wrong_reply(b"HELLO", b"HTTP/1.1 400 Bad Request\r\n", 0);
    assert_eq!(classify(&fact, &ctx()), Cause::NotAnEchoServer);
}

#[test]
fn how_the_server_ended_comes_first() {
    let ended = Fact::ConnectionEnded {
        got: 0,
        expected: 12,
        how: Ending::Error(IoFault { kind: IoKind::Reset, os: "reset".into() }),
    };
    assert_eq!(classify(&ended, &ctx()), Cause::ClosedWithoutReply);
    let crashed = |status, line: &str| Context {
        end: Some(TargetEnd::Exited { status }),
        error_line: Some(line.to_string()).filter(|l| !l.is_empty()),
        ..ctx()
    };
    let cases = [
        (ProcStatus::Exited(1), "ConnectionResetError: [Errno 104] Connection reset by peer", Cause::CrashedOnReset),
        (ProcStatus::Exited(1), "Error: write ECONNRESET", Cause::CrashedOnReset),
        (ProcStatus::Exited(1), "BrokenPipeError: [Errno 32] Broken pipe", Cause::CrashedOnBrokenPipe),
        (ProcStatus::Killed(13), "", Cause::CrashedOnBrokenPipe),
        (ProcStatus::Exited(1), "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff", Cause::CrashedDecoding),
        (ProcStatus::Exited(1), "", Cause::Crashed),
        (ProcStatus::Exited(0), "", Cause::ServesOneClient),
    ];
    for (status, line, want) in cases {
        assert_eq!(classify(&ended, &crashed(status, line)), want, "{status:?} {line}");
    }
    let gone = Context { end: Some(TargetEnd::NotAccepting { at: "tcp://127.0.0.1:1".into() }), ..ctx() };
    assert_eq!(classify(&ended, &gone), Cause::StoppedAccepting);
}

#[test]
fn a_cut_reply_and_no_reply_differ_by_what_came() {
    let cut = Fact::ConnectionEnded { got: 1024, expected: 65536, how: Ending::Closed };
    assert_eq!(classify(&cut, &ctx()), Cause::ReplyCut);
    let closed = Fact::ConnectionEnded { got: 0, expected: 5, how: Ending::Closed };
    assert_eq!(classify(&closed, &ctx()), Cause::ClosedWithoutReply);
    let stalled = Fact::NoReply {
        got: 100,
        expected: 256,
        waited: Micros(1),
        stalled: true,
        send_error: None,
        missing: Bytes::default(),
    };
    assert_eq!(classify(&stalled, &ctx()), Cause::ReplyCut);
    let none = Fact::NoReply {
        got: 0,
        expected: 5,
        waited: Micros(1),
        stalled: false,
        send_error: None,
        missing: Bytes::of(b"HELLO"),
    };
    let blank = Fact::NoReply {
        got: 0,
        expected: 3,
        waited: Micros(1),
        stalled: false,
        send_error: None,
        missing: Bytes::of(b" \t "),
    };
    assert_eq!(classify(&blank, &Context::default()), Cause::WhitespaceLost, "a blank message skipped");
    assert_eq!(classify(&none, &ctx()), Cause::NoReply);
}

#[test]
fn the_error_line_is_the_error_not_a_stack_frame() {
    let node: Vec<String> = [
        "node:events:497",
        "      throw er; // Unhandled 'error' event",
        "Error: write ECONNRESET",
        "    at afterWriteDispatched (node:internal/stream_base_commons:160:15)",
        "    at emitErrorCloseNT (node:internal/streams/destroy:129:3)",
        "Emitted 'error' event on Socket instance at:",
        "  errno: -104,",
        "}",
        "Node.js v18.19.0",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(error_line(&node).as_deref(), Some("Error: write ECONNRESET"));
    let python: Vec<String> = [
        "Traceback (most recent call last):",
        "  File \"server.py\", line 42, in <module>",
        "    conn.send(data.upper())",
        "ConnectionResetError: [Errno 104] Connection reset by peer",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(error_line(&python).as_deref(), Some("ConnectionResetError: [Errno 104] Connection reset by peer"));
    let java: Vec<String> = [
        "Exception in thread \"main\" java.net.SocketException: Connection reset",
        "\tat java.base/sun.nio.ch.NioSocketImpl.implRead",
    ]
    .map(String::from)
    .to_vec();
    assert!(error_line(&java).unwrap().contains("SocketException"));
}

#[test]
fn datagram_replies_out_of_order_are_not_a_size_error() {
    let later = Fact::LaterReplyFirst { got: 1000, expected: 10 };
    assert_eq!(classify(&later, &ctx()), Cause::RepliesOutOfOrder);
    assert_eq!(classify(&Fact::DatagramCut { got: 1024, expected: 2000 }, &ctx()), Cause::DatagramCut);
    assert_eq!(classify(&Fact::NoDatagramReply { sent: 0, within: Micros(1) }, &ctx()), Cause::EmptyDatagramUnanswered);
}

#[test]
fn a_removed_regular_file_is_named() {
    let file = PathThing::RegularFile(Bytes::of(b"someone's notes\n"));
    assert_eq!(classify(&Fact::StartedAnyway { was: file.clone() }, &ctx()), Cause::RemovedRegularFile);
    let changed = Fact::PathChanged { path: "/tmp/x".into(), was: file, now: PathThing::StaleSocket };
    assert_eq!(classify(&changed, &ctx()), Cause::RemovedRegularFile);
}

fn served(datagrams: u64, replied: u64) -> Served {
    Served { datagram: true, datagrams, received: datagrams * 5, replied, ..Served::default() }
}

#[test]
fn a_client_that_never_sent_is_not_said_to_wait_for_a_lost_reply() {
    let never = Fact::WaitedForever { within: Micros(1), served: served(0, 0) };
    assert_eq!(classify(&never, &ctx()), Cause::LineNeverSent);
    let waits = Fact::WaitedForever { within: Micros(1), served: served(1, 0) };
    assert_eq!(classify(&waits, &ctx()), Cause::NoTimeout);
}

#[test]
fn a_line_sent_in_pieces_is_named() {
    let split = Fact::TooManyDatagrams { got: 11, expected: 1, extra: Bytes::of(&[b'x'; 1024]), split: true };
    assert_eq!(classify(&split, &ctx()), Cause::LineSplitIntoDatagrams);
}

#[test]
fn client_facts_are_judged_on_their_own() {
    let line = |got: &[u8], want: &[u8]| Fact::wrong_line(1, want, got);
    let exited = Context { end: Some(TargetEnd::ClientExited { status: ProcStatus::Exited(1) }), ..ctx() };
    assert_eq!(classify(&line(b"", b"HELLO"), &exited), Cause::EmptyLineSent);
    assert_eq!(classify(&line(b"HEL", b"HELLO"), &ctx()), Cause::ReplyReadOnce);
    assert_eq!(classify(&line(b"hello", b"HELLO"), &ctx()), Cause::WrongLine);
    let buffered = Fact::TooFewLines {
        printed: 0,
        expected: 1,
        partial: 0,
        next: Bytes::of(b"HELLO"),
        ended: false,
        within: Micros(1),
        stranger: false,
        served: Served { connections: 1, received: 5, replied: 5, ..Served::default() },
    };
    assert_eq!(classify(&buffered, &ctx()), Cause::OutputBuffered);
}

#[test]
fn a_strangers_datagram_printed_without_a_newline_names_the_stranger() {
    let fact = Fact::TooFewLines {
        printed: 0,
        expected: 1,
        partial: 5,
        next: Bytes::of(b"HELLO"),
        ended: false,
        within: Micros(1),
        stranger: true,
        served: served(1, 5),
    };
    assert_eq!(classify(&fact, &ctx()), Cause::StrangerPrinted);
}

#[test]
fn every_cause_has_words_and_a_fix_and_a_stable_name() {
    for c in [Cause::Greeting, Cause::LineSplitIntoDatagrams, Cause::Sockcheck] {
        assert!(!c.title().is_empty() && !c.fix().is_empty());
    }
    assert_eq!(Cause::LineEndingAdded.name(), "line_ending_added");
}

#[test]
fn bytes_show_as_text_where_they_are_utf8_and_read_back_exactly() {
    use crate::facts::{show, unshow};
    assert_eq!(show("HéLLO 你好".as_bytes()), "HéLLO 你好");
    assert_eq!(show(b"a\x00\xff\"\\\n"), r#"a\x00\xff\"\\\n"#);
    for bytes in [&b"H\xc3\xa9LLO"[..], b"\xe4\xbd", b"\x00\x01\x7f\x80 \t\r\n", "ß\u{85}".as_bytes()] {
        assert_eq!(unshow(&show(bytes)).unwrap(), bytes, "{}", show(bytes));
    }
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(unshow(&show(&all)).unwrap(), all);
}

#[test]
fn whitespace_missing_from_the_start_of_a_reply_is_lost_whitespace() {
    // A blank message skipped: "   " then "after" read apart, and only "AFTER" came back.
    assert_eq!(classify(&wrong_reply(b"   AFTER", b"AFTER", 0), &ctx()), Cause::WhitespaceLost);
    // The docs' UDP handler, `self.request[0].strip()`: both ends gone.
    let diff = Difference::between(Unit::Datagram, b" \t PADDED \r\n", b"PADDED", 0);
    let stripped = Fact::WrongDatagram { diff, got: 6, expected: 12 };
    assert_eq!(classify(&stripped, &ctx()), Cause::WhitespaceLost);
    // Something else where whitespace belongs is a changed reply, not a strip.
    assert_eq!(classify(&wrong_reply(b"   AFTER", b"XAFTER", 0), &ctx()), Cause::ReplyChanged);
    assert_eq!(classify(&wrong_reply(b"A B", b"A_B", 0), &ctx()), Cause::ReplyChanged);
    // A line ending added stays that, even where the expected bytes were blanks.
    assert_eq!(classify(&wrong_reply(b"  X", b"\n  X", 0), &ctx()), Cause::LineEndingAdded);
}

#[test]
fn another_answer_to_a_command_word_names_the_word_as_the_cause() {
    // `help` answered with a usage line, over a stream and in a datagram, in any case.
    assert_eq!(classify(&wrong_reply(b"HELP", b"usag", 0), &ctx()), Cause::CommandWordAnswered);
    assert_eq!(classify(&wrong_reply(b"BYE\n", b"Good", 40), &ctx()), Cause::CommandWordAnswered);
    let diff = Difference::between(Unit::Datagram, b"EXIT", b"bye!!", 0);
    assert_eq!(classify(&Fact::WrongDatagram { diff, got: 5, expected: 4 }, &ctx()), Cause::CommandWordAnswered);
    // Lowercase is still "not uppercased", and other words are a changed reply.
    assert_eq!(classify(&wrong_reply(b"HELP", b"help", 0), &ctx()), Cause::NotUppercased);
    assert_eq!(classify(&wrong_reply(b"HELPER", b"usage:", 0), &ctx()), Cause::ReplyChanged);
}

#[test]
fn a_client_that_changes_whitespace_inside_a_line_is_named_so() {
    let got_other = |expected: &[u8], got: &[u8]| Fact::ServerGotOther {
        diff: Difference::between(Unit::Stream, expected, got, 0),
    };
    // ' '.join(msg.split()): two spaces become one; a tab replaced by a space.
    let collapsed = got_other(b"hellotwo  spaces", b"hellotwo spaces");
    assert_eq!(classify(&collapsed, &ctx()), Cause::InnerWhitespaceChanged);
    assert_eq!(classify(&got_other(b"a\tb", b"a b"), &ctx()), Cause::InnerWhitespaceChanged);
    let diff = Difference::between(Unit::Datagram, b"a\tb", b"a b", 0);
    let datagram = Fact::WrongDatagramSent { index: 1, diff, got: Bytes::of(b"a b"), expected: Bytes::of(b"a\tb") };
    assert_eq!(classify(&datagram, &ctx()), Cause::InnerWhitespaceChanged);
    // Not stripped, or a line ending sent along, stays "not stripped".
    assert_eq!(classify(&got_other(b"hellohow", b"hello  how"), &ctx()), Cause::LineNotStripped);
    assert_eq!(classify(&got_other(b"two words", b"two\n"), &ctx()), Cause::LineNotStripped);
}
