//! The conformance catalogue: every check sockcheck runs against a server.
//!
//! Each scenario names the bug it is there to catch. They run over TCP and Unix sockets alike;
//! the ones that depend on the serving model or on stopping the server say so and are skipped
//! (with the reason) where that is not possible.
//!
//! This file is compiled into the `sockcheck` crate (so `sockcheck check` carries it) and run
//! by `cargo test` through `harness/tests/conformance.rs`, one named test per scenario,
//! transport and model.

use crate::dsl::*;

/// Every scenario, in the order `sockcheck check` runs them: the stream ones, then the
/// datagram ones ([`crate::datagram_catalogue`]).
pub fn all() -> Vec<Scenario> {
    let mut all = stream();
    all.extend(crate::datagram_catalogue::all());
    all
}

/// The scenarios over stream sockets (TCP and Unix).
pub fn stream() -> Vec<Scenario> {
    vec![
        // 1. The basic conversation.
        Scenario::new("short_message_is_echoed_upper")
            .about("one short message comes back uppercased")
            .client("a", |c| c.connect().send("hello, world").expect_reply().close()),
        Scenario::new("several_messages_on_one_connection")
            .about("the communication loop answers every message, not only the first recv")
            .client("a", |c| {
                c.connect()
                    .send("hello")
                    .expect_reply()
                    .send("how are you")
                    .expect_reply()
                    .send("1 + 1 = 2")
                    .expect_reply()
                    .send("bye")
                    .expect_reply()
                    .close()
            }),
        // What a message holds is text to echo, whatever it says: learners' servers skip
        // "blank" messages and hang up on "exit". The pause lets the server read the blanks on
        // their own, so a skipped one shows as the reply to "after" without its blanks; the
        // messages after it wait for their replies, so they always arrive alone.
        Scenario::new("message_of_only_whitespace_is_echoed")
            .about("a message of only whitespace (spaces, a tab, a line ending) comes back as it was sent (catches `if not data.strip(): continue`)")
            .client("a", |c| {
                c.connect()
                    .send("   ")
                    .wait(ms(50))
                    .send("after")
                    .expect_reply()
                    .send(" \t ")
                    .expect_reply()
                    .send("\r\n")
                    .expect_reply()
                    .send("still here")
                    .expect_reply()
                    .close()
            }),
        Scenario::new("command_words_are_echoed_like_any_text")
            .about("help, exit, quit and bye, in any case, are text like any other: each comes back uppercased and the connection stays open")
            .client("a", |c| {
                c.connect()
                    .send("help")
                    .expect_reply()
                    .send("exit")
                    .expect_reply()
                    .send("Quit")
                    .expect_reply()
                    .send("BYE\n")
                    .expect_reply()
                    .send("still here")
                    .expect_reply()
                    .close()
            }),
        Scenario::new("empty_recv_ends_the_connection")
            .about("a client that closes its side gets the connection closed (no spin on EOF, no leaked socket)")
            .client("a", |c| c.connect().half_close().expect_eof()),
        // 2. One recv is not a message.
        Scenario::new("send_of_64k_comes_back_whole")
            .about("a 64 KiB send, 64x the tutorial's buffer, comes back complete and in order")
            .client("a", |c| c.connect().send(pattern(64 << 10)).expect_reply().close()),
        Scenario::new("send_of_1m_comes_back_whole")
            .about("a 1 MiB send comes back complete and in order")
            .client("a", |c| c.connect().send(pattern(1 << 20)).expect_reply().close()),
        Scenario::new("send_of_16m_comes_back_whole")
            .about("a 16 MiB send, more than any kernel buffer, comes back complete and in order")
            .client("a", |c| c.connect().send(random(16 << 20, 16)).expect_reply().close()),
        // 3. Only a-z change.
        Scenario::new("every_byte_value_is_preserved")
            .about("bytes 0-255 come back unchanged except a-z, which become A-Z")
            .client("a", |c| c.connect().send(all_bytes()).expect_reply().send(random(4096, 3)).expect_reply().close()),
        Scenario::new("utf8_passes_unchanged")
            .about("multi-byte UTF-8 passes through byte for byte; only ASCII letters change")
            .client("a", |c| c.connect().send("héllo wörld, 你好, ß ÿ é").expect_reply().close()),
        // 4. The connection loop.
        Scenario::new("second_client_is_served_after_the_first_closes")
            .about("the server goes back to accept() when a client leaves")
            .client("a", |c| c.connect().send("first").expect_reply().close())
            .client("b", |c| c.connect().send("second").expect_reply().close()),
        Scenario::new("thousand_short_connections_in_a_row")
            .about("1000 connections one after another are all served and closed (catches leaked descriptors)")
            .repeat(1000, |c| c.connect().send("ping").expect_reply().half_close().expect_eof()),
        // 5. Abrupt disconnects.
        Scenario::new("reset_client_does_not_stop_the_server")
            .about("a client that resets (RST) while the server is busy answering it ends only its own connection")
            .client("a", |c| c.connect().send(pattern(1 << 20)).expect_partial_reply(64 << 10).reset())
            .client("b", |c| c.connect().send("still there?").expect_reply().close()),
        Scenario::new("client_vanishing_mid_reply_does_not_stop_the_server")
            .about("a client that disappears in the middle of a multi-megabyte reply ends only its own connection")
            .client("a", |c| c.connect().send(pattern(8 << 20)).vanish_mid_reply(64 << 10))
            .client("b", |c| c.connect().send("still there?").expect_reply().close()),
        // 6. Half-close.
        Scenario::new("half_close_still_gets_the_whole_reply")
            .about("a client that sends, then shuts down its write side, gets the whole reply, then EOF")
            .client("a", |c| c.connect().send(pattern(256 << 10)).half_close().expect_reply().expect_eof()),
        // 7. Slow readers.
        Scenario::new("slow_reader_loses_nothing")
            .about("a client with a small receive buffer that sends 8 MiB and reads slowly gets every byte in order (writes that would block are not dropped)")
            .client("a", |c| {
                // 128 KiB of receive buffer: what the server's send buffer (4 MiB at most by
                // default) cannot hold must wait in the server, whatever the kernel's autotuning.
                c.connect_with_recv_buffer(128 << 10)
                    .send(random(8 << 20, 7))
                    .wait(ms(100))
                    .expect_reply_slowly(64 << 10, ms(1))
                    .close()
            }),
        // 8. The backlog.
        Scenario::new("queued_clients_are_served_in_arrival_order")
            .about("while A is served, B, C and D wait in the backlog (listen(5)); each is served in turn once the one before leaves")
            .needs_model(Mode::Sequential)
            .client("a", |c| c.connect().send("a is served").expect_reply())
            .client("b", |c| c.connect().send("b waits"))
            .client("c", |c| c.connect().send("c waits"))
            .client("d", |c| c.connect().send("d waits"))
            .client("b", |c| c.expect_silence(ms(200)))
            .client("a", |c| c.send("a still served").expect_reply().close())
            .client("b", |c| c.expect_reply())
            .client("c", |c| c.expect_silence(ms(100)))
            .client("d", |c| c.expect_silence(ms(50)))
            .client("b", |c| c.close())
            .client("c", |c| c.expect_reply())
            .client("d", |c| c.expect_silence(ms(100)))
            .client("c", |c| c.close())
            .client("d", |c| c.expect_reply().close()),
        Scenario::new("concurrent_clients_are_served_at_once")
            .about("four clients streaming at once are all served, and no byte crosses between connections")
            .needs_model(Mode::Concurrent)
            .client("a", |c| c.connect().send(random(1 << 20, 1)))
            .client("b", |c| c.connect().send(random(1 << 20, 2)))
            .client("c", |c| c.connect().send(random(1 << 20, 3)))
            .client("d", |c| c.connect().send(random(1 << 20, 4)))
            .together(&["a", "b", "c", "d"], |c| c.expect_reply().half_close().expect_eof()),
        Scenario::new("idle_client_does_not_block_others")
            .about("a connected client that sends nothing does not stop others from being served")
            .needs_model(Mode::Concurrent)
            .client("idle", |c| c.connect())
            .client("b", |c| c.connect().send("not blocked").expect_reply().within(secs(2)).close())
            .client("idle", |c| c.send("late").expect_reply().close()),
        // 9. Restart.
        Scenario::new("restarted_server_binds_at_once")
            .about("killed with a connection open and started again on the same address, the server binds at once (SO_REUSEADDR)")
            .client("a", |c| c.connect().send("before").expect_reply())
            .restart_target()
            .client("b", |c| c.connect().send("after").expect_reply().close()),
        // 10. Unix socket files.
        Scenario::new("stale_socket_file_is_replaced")
            .about("a socket file left by a crashed server does not stop a new one from starting")
            .stop_target()
            .put_at_path(PathFixture::StaleSocket)
            .start_target()
            .client("a", |c| c.connect().send("fresh").expect_reply().close()),
        Scenario::new("regular_file_at_socket_path_is_kept")
            .about("a regular file at the socket path makes the server refuse to start, and the file is left intact")
            .stop_target()
            .put_at_path(PathFixture::RegularFile(b"someone's notes\n".to_vec()))
            .expect_start_failure()
            .expect_at_path(PathFixture::RegularFile(b"someone's notes\n".to_vec()))
            .clear_path()
            .start_target(),
    ]
}

/// The scenario with this name.
pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name() == name)
}
