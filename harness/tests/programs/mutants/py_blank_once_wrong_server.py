#!/usr/bin/env python3
"""py_blank_server.py (a message of only whitespace gets no reply) with a second, flaky bug: the
first message of two bytes or more it ever answers, across restarts, gets a wrong reply (sockcheck's
start-up probe sends one byte). The first time is
remembered in a marker file, so a rerun never sees it again, as a bug that needs a rare timing.

    python3 harness/tests/programs/mutants/py_blank_once_wrong_server.py PORT MARKER

For `sockcheck explore`'s tests: the first failure it finds repeats in none of its reruns (flaky);
exploring goes on and finds the whitespace bug, which does repeat.
"""
import os
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)
marker = sys.argv[2]

while True:
    conn, addr = server.accept()
    with conn:
        try:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                if not data.strip():  # the repeatable bug: whitespace is a message too
                    continue
                if len(data) > 1 and not os.path.exists(marker):  # the flaky one: once ever
                    open(marker, "w").close()
                    conn.sendall(b"?" * len(data))
                    continue
                conn.sendall(data.upper())
        except (ConnectionResetError, BrokenPipeError) as e:
            print(f"client gone: {e}", file=sys.stderr)
