#!/usr/bin/env python3
"""Datagram clients for harness/tests/integration/python_clients.rs: the tutorial's UDP client
(socket(AF_INET, SOCK_DGRAM), sendto, recvfrom) done right, with one thing changed each.

    python3 datagram_variants.py VARIANT PORT_OR_PATH   (a port: UDP on 127.0.0.1; a path: AF_UNIX)

correct     one datagram per stripped non-empty line; recvfrom(65536) with settimeout(1) and up to
            3 resends; only a datagram from the server's address and of the line's length is the
            reply; datagrams already waiting before a line is sent are thrown away. Over AF_UNIX it
            binds a path of its own in a temp dir (an unnamed socket cannot be answered) and
            removes it at exit, also on SIGTERM
recv1024    recvfrom(1024), the tutorial's buffer: a longer reply is cut (and a datagram as long as
            the line, or as the buffer, is the reply)
no-timeout  no settimeout: when a reply is lost, recvfrom waits for ever
any-sender  takes a datagram from any address as the reply
stale       takes the next datagram as the reply: a duplicated reply answers the next line
unbound     AF_UNIX without bind(): the server has no address to answer
sends-empty strips but does not skip empty lines: sends empty datagrams (which are answered)
split-reads sends what each read of stdin gives (1024 bytes at most) as a datagram of its own:
            a long line goes out in pieces, their replies printed together as one line
"""
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

VARIANTS = ("correct", "recv1024", "no-timeout", "any-sender", "stale", "unbound", "sends-empty", "split-reads")
TIMEOUT = 1.0
RETRIES = 3


def drain(s):
    """Throw away what is already waiting: late or duplicate replies to earlier lines."""
    s.setblocking(False)
    try:
        while True:
            s.recvfrom(65536)
    except BlockingIOError:
        pass
    finally:
        s.settimeout(TIMEOUT)


def exchange(variant, s, msg, server):
    bufsize = 1024 if variant == "recv1024" else 65536
    for _ in range(1 + RETRIES):
        s.sendto(msg, server)
        deadline = time.monotonic() + TIMEOUT
        while True:
            if variant != "no-timeout":
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
            try:
                data, addr = s.recvfrom(bufsize)
            except socket.timeout:
                break
            if addr != server and variant != "any-sender":
                continue
            if variant == "stale" or len(data) == min(len(msg), bufsize):
                return data
    return None


def main(variant, where):
    if where.isdigit():
        family, server = socket.AF_INET, ("127.0.0.1", int(where))
    else:
        family, server = socket.AF_UNIX, where
    s = socket.socket(family, socket.SOCK_DGRAM)
    tmp = None
    if family == socket.AF_UNIX and variant != "unbound":
        tmp = tempfile.mkdtemp(prefix="dgram-client-")
        s.bind(os.path.join(tmp, "client.sock"))
    if variant == "no-timeout":
        s.settimeout(None)
    try:
        for line in sys.stdin:
            msg = line.strip().encode()
            if not msg and variant != "sends-empty":
                continue
            if variant not in ("stale", "no-timeout"):
                drain(s)
            if variant == "split-reads":
                pieces = [exchange(variant, s, msg[i : i + 1024], server) for i in range(0, len(msg), 1024)]
                reply = None if None in pieces else b"".join(pieces)
            else:
                reply = exchange(variant, s, msg, server)
            if reply is None:
                print(f"client: no reply from {where} to a line sent {1 + RETRIES} times; giving up", file=sys.stderr)
                return 1
            print(reply.decode(errors="replace"), flush=True)
    except OSError as e:
        print(f"client: {e}", file=sys.stderr)
        return 1
    finally:
        s.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in VARIANTS:
        sys.exit(f"usage: datagram_variants.py {{{'|'.join(VARIANTS)}}} PORT_OR_PATH")
    # A stopped client still removes its socket dir (the finally above).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    sys.exit(main(sys.argv[1], sys.argv[2]))
