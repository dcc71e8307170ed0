#!/usr/bin/env python3
"""Imitates: the tutorial's stream server (socket, SO_REUSEADDR, bind, listen(5), an accept loop
around a recv(1024) / send(data.upper()) loop), ported to Python 3 with its bugs fixed (sendall,
a client that resets ends only its own connection), plus a line that looks harmless: skip
"empty" messages, written as `if not data.strip(): continue`. The port from argv.

    python3 harness/tests/programs/mutants/py_blank_server.py PORT

Its one bug (a mutant, written to be caught): a message of only whitespace (spaces, tabs, line
endings) gets no reply. `if not data: break` is the end of the conversation; `data.strip()` is
not: "   " is three bytes that must come back. It passes every catalogue scenario of sockcheck
before `message_of_only_whitespace_is_echoed` (see README.md here).
"""
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)

while True:
    conn, addr = server.accept()
    with conn:
        try:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                if not data.strip():  # the bug: whitespace is a message too
                    continue
                conn.sendall(data.upper())
        except (ConnectionResetError, BrokenPipeError) as e:
            print(f"client gone: {e}", file=sys.stderr)
