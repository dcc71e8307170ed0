#!/usr/bin/env python3
"""Datagram servers for harness/tests/datagrams.rs: the tutorial's UDP server with one thing changed each.

    python3 datagram_variants.py VARIANT PORT_OR_PATH

correct      recvfrom(65536), sendto(data.upper(), addr), and a sendto that fails ends nothing
recv1024     the tutorial's recvfrom(1024): longer datagrams come back cut
recv8192     socketserver's 8,192-byte buffer
empty-stops  `if not data: break` copied from the TCP server
fixed-peer   replies to the first address it ever heard from
first-n      answers only the first 5 datagrams, then reads and ignores the rest
silent       reads every datagram and never answers
"""
import os
import socket
import stat
import sys

variant, where = sys.argv[1], sys.argv[2]

if where.isdigit():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(where)))
else:
    try:
        if stat.S_ISSOCK(os.lstat(where).st_mode):
            os.unlink(where)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(where)
    # Room for the largest datagram in the send queue.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 18)

bufsize = {"recv1024": 1024, "recv8192": 8192}.get(variant, 65536)
first = None
answered = 0
while True:
    data, addr = s.recvfrom(bufsize)
    if variant == "empty-stops" and not data:
        break
    if variant == "silent":
        continue
    if variant == "first-n":
        answered += 1
        if answered > 5:
            continue
    if first is None:
        first = addr
    to = first if variant == "fixed-peer" else addr
    try:
        s.sendto(data.upper(), to)
    except OSError as e:
        print(f"sendto {to}: {e}", file=sys.stderr, flush=True)
