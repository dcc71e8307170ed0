#!/usr/bin/env python3
"""Imitates: the tutorial's client over AF_UNIX, as Unix-socket tutorials (PyMOTW "Unix Domain
Sockets" client) write it: connect to the path, then per line strip / skip empty / sendall / read
the whole reply (amount_received < amount_expected loop) / print with flush=True. The socket path
from argv.

    python3 py_unix_client.py PATH

Expected verdict: correct: every client scenario passes over a Unix socket (also under pipes: it
flushes every reply). If nothing listens at the path it exits 1 with a one-line message.
"""
import socket
import sys

server_address = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(server_address)
except OSError as msg:
    sys.exit(f"cannot connect to {server_address}: {msg}")

try:
    for line in sys.stdin:
        message = line.strip().encode()
        if not message:
            continue
        sock.sendall(message)
        amount_received = 0
        amount_expected = len(message)
        chunks = []
        while amount_received < amount_expected:
            data = sock.recv(4096)
            if not data:
                sys.exit("the server closed the connection")
            amount_received += len(data)
            chunks.append(data)
        print(b"".join(chunks).decode(), flush=True)
except OSError as e:
    sys.exit(f"connection lost: {e}")
finally:
    sock.close()
