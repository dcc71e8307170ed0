//! The client's reply reassembly oracle.

use std::io::{self, Read};

use sockcheck_proto::{ReplyAssembler, Transform};

use crate::script::{Script, ScriptedStream};

/// Client reply reassembly: a reply of `reply.len()` bytes followed on the stream by `next` (the
/// start of a later reply), read in pieces following `reads` with a read buffer of `bufsize` bytes
/// the way the client does (never more than [`ReplyAssembler::remaining`]). The assembled reply
/// must be exactly `reply` and none of `next` may have been taken.
pub fn check_reply(reply: &[u8], next: &[u8], reads: &[u8], bufsize: usize) -> Result<(), String> {
    let mut wire = Vec::with_capacity(reply.len() + next.len());
    wire.extend_from_slice(reply);
    wire.extend_from_slice(next);
    let script = Script { input: &wire, bufsize, transform: Transform::Echo, reads, writes: &[] };
    let mut stream = ScriptedStream::new(&script);
    let mut assembler = ReplyAssembler::expect(reply.len());
    let mut buf = vec![0u8; bufsize.max(1)];
    while !assembler.is_complete() {
        let want = assembler.remaining().min(buf.len());
        match stream.read(&mut buf[..want]) {
            Ok(0) => return Err(format!("EOF with {} of {} reply bytes", assembler.bytes().len(), reply.len())),
            Ok(n) => assembler.push(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("unexpected error: {e}")),
        }
    }
    if assembler.bytes() != reply {
        return Err(format!("assembled {:?}, want {:?}", assembler.bytes(), reply));
    }
    if stream.delivered() != reply.len() {
        return Err(format!("read {} bytes for a {}-byte reply", stream.delivered(), reply.len()));
    }
    Ok(())
}
