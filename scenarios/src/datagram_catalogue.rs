//! The datagram part of the server catalogue: the tutorial's UDP echo (`recvfrom` / `sendto`),
//! over `udp` and `unix-dgram` only (each scenario says `.datagrams()`), sequential model only
//! (one socket serves everyone). [`crate::catalogue::all`] runs them after the stream ones.

use crate::dsl::*;

/// The largest UDP payload over IPv4: 65,535 - 8 (UDP header) - 20 (IPv4 header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Every datagram scenario, in the order `sockcheck check` runs them.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new("short_datagram_comes_back_upper")
            .about("one short datagram is answered with one datagram, uppercased, to the address it came from")
            .datagrams()
            .client("a", |c| c.send_datagram("hello, world").expect_datagram_reply()),
        Scenario::new("datagram_whitespace_at_both_ends_comes_back")
            .about("spaces, tabs and line endings at both ends of a datagram, and a datagram of only whitespace, come back as sent (catches the docs' `self.request[0].strip()`)")
            .datagrams()
            .client("a", |c| {
                c.send_datagram(" \t padded \r\n")
                    .expect_datagram_reply()
                    .send_datagram("   ")
                    .expect_datagram_reply()
            }),
        Scenario::new("datagrams_keep_their_boundaries_and_sizes")
            .about("datagrams of 1, 1,000 and 8,193 bytes come back one for one: no merging, no splitting, no cut")
            .datagrams()
            .client("a", |c| {
                c.send_datagram("x")
                    .send_datagram(pattern(1000))
                    .send_datagram(random(8193, 5))
                    .expect_datagram_reply()
                    .expect_datagram_reply()
                    .expect_datagram_reply()
            }),
        Scenario::new("largest_udp_payload_comes_back_whole")
            .about("a datagram of 65,507 bytes (the most UDP carries) comes back whole (catches recvfrom(1024) and socketserver's 8,192)")
            .datagrams()
            .client("a", |c| c.send_datagram(random(MAX_UDP_PAYLOAD, 11)).expect_datagram_reply()),
        Scenario::new("empty_datagram_is_answered_and_the_server_goes_on")
            .about("an empty datagram is a message: it gets an empty reply and the server goes on (catches `if not data: break`)")
            .datagrams()
            .client("a", |c| c.send_datagram("").expect_datagram_reply().send_datagram("after").expect_datagram_reply()),
        Scenario::new("every_byte_value_survives_a_datagram")
            .about("bytes 0-255 come back unchanged in a datagram except a-z, which become A-Z")
            .datagrams()
            .client("a", |c| {
                c.send_datagram(all_bytes()).expect_datagram_reply().send_datagram(random(4096, 3)).expect_datagram_reply()
            }),
        Scenario::new("utf8_passes_unchanged_in_a_datagram")
            .about("multi-byte UTF-8 passes through a datagram byte for byte; only ASCII letters change")
            .datagrams()
            .client("a", |c| c.send_datagram("héllo wörld, 你好, ß ÿ é").expect_datagram_reply()),
        Scenario::new("interleaved_clients_get_their_own_replies")
            .about("two clients taking turns each get the replies to their own datagrams (catches replying to a fixed or the last address)")
            .datagrams()
            .client("a", |c| c.send_datagram("from a").expect_datagram_reply())
            .client("b", |c| c.send_datagram("from b").expect_datagram_reply())
            .client("a", |c| c.send_datagram("a again"))
            .client("b", |c| c.send_datagram("b again"))
            .client("a", |c| c.expect_datagram_reply())
            .client("b", |c| c.expect_datagram_reply())
            .client("a", |c| c.expect_no_datagram(ms(100))),
        Scenario::new("burst_of_1000_datagrams_is_answered")
            .about("1,000 datagrams from one client, a few in flight: the replies are counted and the loss reported (none answered, duplicates or more than 10% lost fails)")
            .datagrams()
            .client("a", |c| c.burst(1000, 64)),
        Scenario::new("vanished_client_does_not_break_the_server")
            .about("a client whose socket is gone before its reply (sendto fails: port unreachable, or no socket file) does not stop the server for the next one")
            .datagrams()
            .client("a", |c| c.send_datagram("gone soon").vanish())
            .client("b", |c| c.send_datagram("still there?").expect_datagram_reply())
            .client("c", |c| c.send_datagram("and again").vanish())
            .client("b", |c| c.send_datagram("still?").expect_datagram_reply()),
        Scenario::new("restarted_datagram_server_binds_at_once")
            .about("killed and started again on the same address, the datagram server binds at once and answers")
            .datagrams()
            .client("a", |c| c.send_datagram("before").expect_datagram_reply())
            .restart_target()
            .client("b", |c| c.send_datagram("after").expect_datagram_reply()),
        Scenario::new("stale_datagram_socket_file_is_replaced")
            .about("a datagram socket file left by a crashed server does not stop a new one from starting")
            .datagrams()
            .stop_target()
            .put_at_path(PathFixture::StaleSocket)
            .start_target()
            .client("a", |c| c.send_datagram("fresh").expect_datagram_reply()),
        Scenario::new("regular_file_at_datagram_socket_path_is_kept")
            .about("a regular file at the datagram socket path makes the server refuse to start, and the file is left intact")
            .datagrams()
            .stop_target()
            .put_at_path(PathFixture::RegularFile(b"someone's notes\n".to_vec()))
            .expect_start_failure()
            .expect_at_path(PathFixture::RegularFile(b"someone's notes\n".to_vec()))
            .clear_path()
            .start_target(),
    ]
}
