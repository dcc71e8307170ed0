//! The datagram server's loop body: for arbitrary datagrams from arbitrary peers, cut or not by a
//! receive buffer of arbitrary size, every whole datagram gets exactly one reply, of the same
//! length, transformed, to the peer it came from; a cut one gets none; the counts add up.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sockcheck_proto::datagram::{Answer, DatagramEcho, Received};
use sockcheck_proto::Transform;

#[derive(Arbitrary, Debug)]
struct Datagram<'a> {
    peer: u8,
    bytes: &'a [u8],
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    bufsize: u16,
    echo: bool,
    datagrams: Vec<Datagram<'a>>,
}

fuzz_target!(|input: Input<'_>| {
    let transform = if input.echo { Transform::Echo } else { Transform::Upper };
    let bufsize = input.bufsize as usize % 2048;
    let mut server = DatagramEcho::new(transform);
    let mut buf = vec![0u8; bufsize];
    let (mut replies, mut cut) = (0u64, 0u64);
    for d in input.datagrams.iter().take(256) {
        // What recvfrom does: copy what fits, say whether the datagram was longer.
        let len = d.bytes.len().min(bufsize);
        buf[..len].copy_from_slice(&d.bytes[..len]);
        let got = Received { len, truncated: d.bytes.len() > bufsize };
        match server.on_datagram(&mut buf, got, d.peer) {
            Answer::Reply { bytes, to } => {
                assert!(!got.truncated, "a cut datagram was answered");
                assert_eq!(to, d.peer, "the reply went to another peer");
                assert_eq!(bytes, &transform.to_vec(d.bytes)[..], "the reply is not the datagram's transform");
                replies += 1;
            }
            Answer::Truncated { kept, from } => {
                assert!(got.truncated && kept == bufsize && from == d.peer, "{got:?} {kept} {from}");
                cut += 1;
            }
        }
    }
    let stats = server.stats();
    assert_eq!((stats.replies, stats.truncated, stats.datagrams), (replies, cut, replies + cut));
});
