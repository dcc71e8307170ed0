#!/usr/bin/env python3
"""The tutorial's client, fixed: strip, skip empty lines, sendall, read the whole reply.

Usage: good_client.py PORT (TCP on 127.0.0.1) or good_client.py PATH (Unix socket).
The protocol has no framing: the reply to N bytes is N bytes, so read until N have come.
"""
import socket
import sys


def connect(where):
    if where.isdigit():
        return socket.create_connection(("127.0.0.1", int(where)))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(where)
    return s


def main():
    client = connect(sys.argv[1])
    try:
        for line in sys.stdin:
            msg = line.strip().encode()
            if len(msg) == 0:
                continue
            client.sendall(msg)
            reply = b""
            while len(reply) < len(msg):
                data = client.recv(len(msg) - len(reply))
                if not data:
                    print("client: the server closed the connection", file=sys.stderr)
                    return 1
                reply += data
            print(reply.decode(errors="replace"), flush=True)
    except OSError as e:
        print(f"client: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
