#!/usr/bin/env python3
"""Imitates: the Python docs, socket module "Echo server program" (the first example of the
socket HOWTO/library page), and the tutorial's first "low" server: one accept(), a recv loop,
then the program ends. Uppercased; the port from argv.

    python3 py_docs_echo_once.py PORT

Expected verdict: FAIL, reported ONCE: the server serves one client and exits (status 0) when
that client leaves. The first connection a checker makes (even a readiness probe that connects
and closes at once) is its only client. A correct tool says so at the top ("the server exited
with status 0 after its first connection closed: it serves one client and stops") and does not
report N scenarios failing with "Connection refused".
"""
import socket
import sys

HOST = "127.0.0.1"  # Standard loopback interface address (localhost)
PORT = int(sys.argv[1])  # Port to listen on (non-privileged ports are > 1023)

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen()
    conn, addr = s.accept()
    with conn:
        print(f"Connected by {addr}")
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data.upper())
