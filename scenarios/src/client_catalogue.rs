//! The client catalogue: every check sockcheck runs against a client (`sockcheck check-client`).
//!
//! sockcheck plays the server and types on the client's stdin. Each scenario names the bug it is
//! there to catch. This file is compiled into the `sockcheck` crate (so the CLI carries it) and run
//! by `cargo test` through `harness/tests/client_catalogue.rs` against the reference client, over
//! TCP and Unix sockets.

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
            .about("a typed line is sent stripped and its uppercase reply printed on a line of its own")
            .steps(|c| c.type_line("hello, world").expect_replies().expect_sent(["hello, world"])),
        ClientScenario::new("several_lines_on_one_connection")
            .about("every line gets its reply, in order, over one connection")
            .steps(|c| {
                c.type_lines(["hello", "  how are you  ", "1 + 1 = 2", "bye"])
                    .expect_replies()
                    .expect_sent(["hello", "how are you", "1 + 1 = 2", "bye"])
            }),
        ClientScenario::new("empty_and_blank_lines_are_not_sent")
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
            .about("a client waiting for its next line blocks: it does not poll")
            .steps(|c| c.type_line("hello").expect_replies().expect_idle(ms(600))),
        ClientScenario::new("end_of_input_exits_zero")
            .about("at the end of stdin the client exits 0, having printed every reply and nothing else")
            .steps(|c| {
                c.type_lines(["first", "second"])
                    .end_input()
                    .expect_exit(Exit::Success)
                    .expect_replies()
                    .expect_no_traceback()
            }),
    ]
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<ClientScenario> {
    all().into_iter().find(|s| s.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let code = find("server_close_ends_the_client").unwrap().to_code();
        assert!(
            code.contains(".serve(close_after(1))") && code.contains("expect_exit(Exit::Failure).within(ms(2000))"),
            "{code}"
        );
    }
}
