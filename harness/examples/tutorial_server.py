#!/usr/bin/env python3
"""The tutorial's uppercase-echo server, ported to Python 3, with its bugs fixed.

    python3 tutorial_server.py PORT     # TCP on 127.0.0.1:PORT
    python3 tutorial_server.py PATH     # Unix socket at PATH

Same structure as the tutorial: socket, SO_REUSEADDR, bind, listen(5), then an accept loop
around a recv(1024) / send(data.upper()) loop, one client at a time. What is fixed:
- sendall() instead of send(): send() may write only part of the reply;
- a client that resets or vanishes ends its own connection, not the server;
- for a Unix socket, a stale socket file is replaced, but anything else at the path is refused
  and left alone; the file is removed when the server stops.

Check it with:  sockcheck check --spawn "python3 harness/examples/tutorial_server.py {port}"
"""
import os
import signal
import socket
import stat
import sys


def listen(where):
    if where.isdigit():
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Restarted at once, the port may still have connections in TIME_WAIT.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(where)))
    else:
        remove_stale_socket(where)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(where)
    server.listen(5)
    return server


def remove_stale_socket(path):
    """A socket file nobody listens on is left by a crashed server: remove it. Refuse anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        sys.exit(f"tutorial_server: {path} exists and is not a socket; not touching it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
        return
    finally:
        probe.close()
    sys.exit(f"tutorial_server: another server is listening on {path}")


def serve(conn):
    while True:
        data = conn.recv(1024)
        if not data:  # the client closed its side
            break
        conn.sendall(data.upper())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tutorial_server.py PORT_OR_PATH")
    where = sys.argv[1]
    server = listen(where)
    # SIGTERM ends the server like Ctrl-C does, so the Unix socket file is removed below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            conn, _ = server.accept()
            with conn:
                try:
                    serve(conn)
                except (ConnectionResetError, BrokenPipeError) as e:
                    print(f"tutorial_server: client gone: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if not where.isdigit():
            try:
                os.unlink(where)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    main()
