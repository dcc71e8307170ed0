#!/usr/bin/env python3
"""The tutorial's client, ported to Python 3, with its bugs fixed.

    python3 tutorial_client.py PORT     # TCP to 127.0.0.1:PORT
    python3 tutorial_client.py PATH     # Unix socket at PATH

Reads lines from stdin, strips them, skips empty ones, sends each with sendall() and prints the
whole reply: the reply to N bytes is N bytes, so it reads until it has N (one recv(1024) is not
the reply). Exits 0 at the end of stdin; if the server goes away, says so and exits 1.
"""
import socket
import sys


def connect(where):
    if where.isdigit():
        return socket.create_connection(("127.0.0.1", int(where)))
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(where)
    return client


def recv_exactly(conn, n):
    parts, got = [], 0
    while got < n:
        part = conn.recv(min(65536, n - got))
        if not part:
            raise ConnectionError("the server closed the connection")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tutorial_client.py PORT_OR_PATH")
    try:
        conn = connect(sys.argv[1])
    except OSError as e:
        sys.exit(f"tutorial_client: cannot connect to {sys.argv[1]}: {e}")
    with conn:
        for line in sys.stdin.buffer:
            msg = line.strip()
            if not msg:
                continue
            try:
                conn.sendall(msg)
                reply = recv_exactly(conn, len(msg))
            except OSError as e:
                sys.exit(f"tutorial_client: {e}")
            sys.stdout.buffer.write(reply + b"\n")
            sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
