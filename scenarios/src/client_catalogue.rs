//! The client catalogue: every check sockcheck runs against a client (`sockcheck check-client`).
//!
//! sockcheck plays the server and types on the client's stdin. Each scenario names the bug it is
//! there to catch. This file is compiled into the `sockcheck` crate (so the CLI carries it) and run
//! by `cargo test` through `harness/tests/conformance.rs` against the reference client. A scenario
//! runs over stream transports (`tcp`, `unix`) unless it says `.datagrams()` (`udp`, `unix-dgram`
//! only) or `.any_transport()`; the datagram ones are in [`datagram_scenarios`].

use crate::dsl::client::*;
use crate::dsl::{ms, pattern, secs};

/// How long a client may take to notice that the server went away.
const EXIT_DEADLINE: u64 = 2;

/// A reply, then the server goes away (as `.serve()` says) before the second: the client must exit
/// non-zero within the deadline, without a traceback.
fn server_goes_away(name: &str) -> ClientScenario {
    ClientScenario::new(name).steps(|c| {
        c.type_line("one")
            .expect_replies()
            .type_line("two")
            .expect_exit(Exit::Failure)
            .within(secs(EXIT_DEADLINE))
            .expect_no_traceback()
    })
}

/// Every client scenario, in the order `sockcheck check-client` runs them.
pub fn all() -> Vec<ClientScenario> {
    vec![
        ClientScenario::new("line_is_sent_and_reply_printed")
            .any_transport()
            .about("a typed line is sent stripped and its uppercase reply printed on a line of its own")
            .steps(|c| c.type_line("hello, world").expect_replies().expect_sent(["hello, world"])),
        ClientScenario::new("several_lines_on_one_connection")
            .any_transport()
            .about("every line gets its reply, in order, over one connection")
            .steps(|c| {
                c.type_lines(["hello", "  how are you  ", "1 + 1 = 2", "bye"])
                    .expect_replies()
                    .expect_sent(["hello", "how are you", "1 + 1 = 2", "bye"])
            }),
        // Only the ends of a line are stripped; spaces and tabs inside are the message. Every
        // language's strip agrees on these lines, and a terminal passes tabs through as typed.
        ClientScenario::new("spaces_and_tabs_inside_a_line_are_sent_as_typed")
            .any_transport()
            .about("spaces and tabs inside a typed line are sent as typed: only its ends are stripped")
            .steps(|c| {
                c.type_lines(["two  spaces", "a\tb", "  tab\tand  spaces  "])
                    .expect_sent(["two  spaces", "a\tb", "tab\tand  spaces"])
                    .expect_replies()
            }),
        ClientScenario::new("empty_and_blank_lines_are_not_sent")
            .any_transport()
            .about("empty and whitespace-only lines send nothing (an empty send gets no reply: the client would hang)")
            .steps(|c| {
                c.type_lines(["", "   ", "\t", "hello", "", " \t ", "world"])
                    .expect_replies()
                    .expect_sent(["hello", "world"])
            }),
        ClientScenario::new("reply_in_small_pieces_is_printed_whole")
            .about("a reply that arrives 3 bytes at a time, 15 ms apart, is printed whole (one recv is not a reply)")
            .serve(reply_in_pieces(3, ms(15)))
            .steps(|c| {
                c.type_line("the quick brown fox jumps over the lazy dog")
                    .expect_replies()
                    .type_line("and again")
                    .expect_replies()
            }),
        ClientScenario::new("reply_over_64k_is_printed_whole")
            .about("a 100 KiB reply is printed whole, and not mixed with the reply to the next line")
            .steps(|c| c.type_line(pattern(100 << 10)).expect_replies().type_line("next").expect_replies()),
        ClientScenario::new("utf8_split_across_reads_is_printed_correctly")
            .about("a reply whose multi-byte UTF-8 characters arrive split across reads is printed intact")
            .serve(split_utf8(ms(10)))
            .steps(|c| c.type_line("héllo wörld, 你好, ß ÿ é 😀").expect_replies()),
        server_goes_away("server_close_ends_the_client")
            .about("when the server closes instead of answering, the client exits non-zero at once: no busy loop, no traceback")
            .serve(close_after(1)),
        server_goes_away("server_reset_ends_the_client")
            .about("when the server resets the connection, the client exits non-zero at once, without a traceback")
            .serve(reset_after(1)),
        // The tutorial's connect() raises ConnectionRefusedError (a traceback unless caught); its
        // connect_ex() returns an error code that a client may ignore, then hang or crash later. A
        // line is typed in case the client connects only when it has something to send.
        ClientScenario::new("nothing_listening_ends_the_client")
            .about("started while nothing listens at its address, the client exits non-zero at once with a message: no traceback, no hang")
            .serve(nothing_listening())
            .steps(|c| {
                c.type_line("hello")
                    .expect_exit(Exit::Failure)
                    .within(secs(EXIT_DEADLINE))
                    .expect_no_traceback()
                    .expect_message()
            }),
        ClientScenario::new("waiting_for_input_uses_no_cpu")
            .any_transport()
            .about("a client waiting for its next line blocks: it does not poll")
            .steps(|c| c.type_line("hello").expect_replies().expect_idle(ms(600))),
        ClientScenario::new("end_of_input_exits_zero")
            .any_transport()
            .about("at the end of stdin the client exits 0, having printed every reply and nothing else")
            .steps(|c| {
                c.type_lines(["first", "second"])
                    .end_input()
                    .expect_exit(Exit::Success)
                    .expect_replies()
                    .expect_no_traceback()
            }),
    ]
    .into_iter()
    .chain(datagram_scenarios())
    .collect()
}

/// How long a datagram client may take to print a reply whose first copy was lost (it waits,
/// sends the line again and gets the reply) or to give up saying so.
const LOST_REPLY_DEADLINE: u64 = 5;

/// The client scenarios over datagrams only: sockcheck plays the tutorial's UDP server.
pub fn datagram_scenarios() -> Vec<ClientScenario> {
    vec![
        ClientScenario::new("each_line_is_one_datagram")
            .about("every non-empty stripped line goes out as exactly one datagram; empty and blank lines send none")
            .datagrams()
            .steps(|c| {
                c.type_lines(["hello", "  two words  ", "", " \t ", "last"])
                    .expect_replies()
                    .expect_sent(["hello", "two words", "last"])
            }),
        ClientScenario::new("reply_of_10000_bytes_is_printed_whole")
            .about("a 10,000-byte line goes out as one datagram and its reply is printed whole (catches recvfrom(1024), which cuts the datagram, and a line sent in pieces)")
            .datagrams()
            .steps(|c| {
                let line = String::from_utf8(pattern(10_000).bytes()).expect("the pattern is ASCII");
                c.type_line(pattern(10_000))
                    .expect_replies()
                    .type_line("next")
                    .expect_replies()
                    .expect_sent([line.as_str(), "next"])
            }),
        ClientScenario::new("lost_reply_does_not_hang_the_client")
            .about("when a reply is lost, the client sends the line again and prints the reply, or gives up non-zero saying so: it does not wait for ever")
            .datagrams()
            .serve(drop_first_replies(1))
            .steps(|c| c.type_line("hello").expect_reply_or_give_up().within(secs(LOST_REPLY_DEADLINE))),
        ClientScenario::new("duplicate_reply_is_not_taken_for_the_next")
            .about("a reply that comes twice is printed once: its copy is not printed as the answer to the next line")
            .datagrams()
            .serve(duplicate_replies())
            .steps(|c| {
                c.type_line("hello")
                    .expect_replies()
                    .type_line("second line")
                    .expect_replies()
                    .type_line("3rd")
                    .expect_replies()
            }),
        ClientScenario::new("datagram_from_another_address_is_not_the_reply")
            .about("a datagram from another address than the server's, sent just before the reply, is not printed as the reply")
            .datagrams()
            .serve(stranger_first())
            .steps(|c| c.type_line("hello").expect_replies().type_line("again").expect_replies()),
    ]
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<ClientScenario> {
    all().into_iter().find(|s| s.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::Transport;

    #[test]
    fn datagram_scenarios_run_over_datagrams_only_and_stream_ones_never_there() {
        let over = |t: Transport| {
            all().into_iter().filter(|s| s.runs_over(t)).map(|s| s.name().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(over(Transport::Tcp), over(Transport::Unix));
        assert_eq!(over(Transport::Udp), over(Transport::UnixDgram));
        assert!(over(Transport::Udp).contains(&"lost_reply_does_not_hang_the_client".to_string()));
        assert!(!over(Transport::Udp).contains(&"server_reset_ends_the_client".to_string()));
        assert!(!over(Transport::Tcp).contains(&"each_line_is_one_datagram".to_string()));
        assert!(over(Transport::Udp).contains(&"line_is_sent_and_reply_printed".to_string()));
    }

    #[test]
    fn client_catalogue_names_are_unique_and_print_as_code() {
        let all = all();
        let names: std::collections::BTreeSet<&str> = all.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), all.len());
        for s in &all {
            assert!(!s.description().is_empty(), "{} has no description", s.name());
            let code = s.to_code();
            assert!(code.starts_with(&format!("ClientScenario::new({:?})", s.name())), "{code}");
        }
        let code = find("lost_reply_does_not_hang_the_client").unwrap().to_code();
        assert!(code.contains(".datagrams()") && code.contains(".serve(drop_first_replies(1))"), "{code}");
        let code = find("server_close_ends_the_client").unwrap().to_code();
        assert!(
            code.contains(".serve(close_after(1))") && code.contains("expect_exit(Exit::Failure).within(ms(2000))"),
            "{code}"
        );
    }
}
