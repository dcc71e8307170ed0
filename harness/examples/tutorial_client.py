#!/usr/bin/env python3
"""The tutorial's client, ported to Python 3, with its bugs fixed.

    python3 tutorial_client.py PORT     # TCP to 127.0.0.1:PORT
    python3 tutorial_client.py PATH     # Unix socket at PATH

As in the tutorial: `msg = input('>>: ').strip()`, empty lines skipped, the reply printed with
print(). Fixed: it sends with sendall() and reads the whole reply (the reply to N bytes is N
bytes, so it reads until it has N: one recv(1024) is not the reply); it exits 0 at the end of
input, and if the server is not there or goes away it says so and exits 1, without a traceback.
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
        while True:
            try:
                msg = input(">>: ").strip()
            except EOFError:
                return
            if not msg:
                continue
            data = msg.encode("utf-8")
            try:
                conn.sendall(data)
                reply = recv_exactly(conn, len(data))
            except OSError as e:
                sys.exit(f"tutorial_client: {e}")
            print(reply.decode("utf-8", errors="replace"))


if __name__ == "__main__":
    main()
