#!/usr/bin/env python3
"""Servers for harness/tests/spawn.rs: the tutorial's server with one thing changed each.

    python3 variants.py VARIANT PORT_OR_PATH      (or [::1]:PORT: the same over IPv6)

correct       the tutorial's structure done right (like examples/tutorial_server.py)
once          takes one recv as the whole message: answers it, ignores the rest of the connection
dies-on-reset no try/except: a client that resets or vanishes kills the server
no-reuseaddr  binds without SO_REUSEADDR (a restart with a connection open cannot bind)
chatty        prints every message to stdout and stderr, flushing each line (must still pass)
crash         exits with status 3 when a message contains b"crash"
threads       a thread per client (the concurrent model)
ignores-term  correct, but ignores SIGTERM (only SIGKILL stops it)
"""
import os
import signal
import socket
import stat
import sys
import threading

variant, where = sys.argv[1], sys.argv[2]


def listen():
    if where.isdigit() or where.startswith("["):
        v6 = where.startswith("[")
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
        if variant != "no-reuseaddr":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6:
            host, port = where[1:].split("]:")
            s.bind((host, int(port)))
        else:
            s.bind(("127.0.0.1", int(where)))
    else:
        try:
            if stat.S_ISSOCK(os.lstat(where).st_mode):
                os.unlink(where)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(where)
    s.listen(5)
    return s


def serve(conn):
    if variant == "once":
        data = conn.recv(1024)
        conn.sendall(data.upper())
        while conn.recv(1024):
            pass
        return
    while True:
        data = conn.recv(1024)
        if not data:
            break
        if variant == "chatty":
            print(f"got {len(data)} bytes: {data[:80]!r}", flush=True)
            print(f"echoing {len(data)} bytes", file=sys.stderr, flush=True)
        if variant == "crash" and b"crash" in data:
            os._exit(3)
        conn.sendall(data.upper())


def guarded(conn):
    with conn:
        try:
            serve(conn)
        except (ConnectionResetError, BrokenPipeError):
            pass


server = listen()
if variant == "ignores-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    conn, _ = server.accept()
    if variant == "threads":
        threading.Thread(target=guarded, args=(conn,), daemon=True).start()
    elif variant == "dies-on-reset":
        with conn:
            serve(conn)
    else:
        guarded(conn)
