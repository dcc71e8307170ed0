#!/usr/bin/env python3
"""Clients for harness/tests/python_clients.rs: the tutorial's client done right (like
examples/tutorial_client.py, but reading sys.stdin and printing with flush=True) with one thing
changed each.

    python3 variants.py VARIANT PORT_OR_PATH     (a port: TCP on 127.0.0.1; a path: Unix socket)

chatty             correct, but writes 256 KiB to stderr per line: sockcheck must drain it, or
                   this client blocks on a full pipe (must still pass)
no-flush           correct, but prints with a plain print(): line-buffered on a terminal (passes
                   there), block-buffered on a pipe (prints nothing until it exits)
sends-empty        strips but does not skip empty lines: sends b"" (nothing goes out) and waits
                   forever for its reply
one-recv           one recv(1024) per line, as in the tutorial: long or sliced replies are cut
spinning           when the server closes, recv returns b"" forever and this loop spins on it
connect-traceback  connects as the tutorial does, without a try: nothing listening is a traceback
waits-for-server   when nothing listens, retries connect_ex() every 0.1 s for ever: it hangs
reader-thread      correct, but reads stdin on a thread of its own while the main thread waits in
                   join() (a futex), as a JVM or tokio program does: must pass, prompt found at once
exits-1            correct, but exits with status 1 at the end of its input

The protocol has no framing: the reply to N bytes is N bytes, so a correct client reads until N
have come.
"""
import socket
import sys
import time

VARIANTS = (
    "chatty",
    "no-flush",
    "sends-empty",
    "one-recv",
    "spinning",
    "connect-traceback",
    "waits-for-server",
    "reader-thread",
    "exits-1",
)


def address(where):
    if where.isdigit():
        return socket.AF_INET, ("127.0.0.1", int(where))
    return socket.AF_UNIX, where


def connect(variant, where):
    family, addr = address(where)
    s = socket.socket(family, socket.SOCK_STREAM)
    if variant == "waits-for-server":
        while s.connect_ex(addr) != 0:
            time.sleep(0.1)
        return s
    if variant == "connect-traceback":
        s.connect(addr)
        return s
    try:
        s.connect(addr)
    except OSError as e:
        sys.exit(f"client: cannot connect to {where}: {e}")
    return s


def closed():
    print("client: the server closed the connection", file=sys.stderr)
    return 1


def main(variant, where):
    client = connect(variant, where)
    try:
        for line in sys.stdin:
            msg = line.strip().encode()
            if len(msg) == 0 and variant != "sends-empty":
                continue
            if variant == "chatty":
                sys.stderr.write(("chatter " * 128 + "\n") * 256)
                sys.stderr.flush()
            client.sendall(msg)
            if variant == "one-recv":
                reply = client.recv(1024)
                if not reply:
                    return closed()
            else:
                reply = b""
                while len(reply) < len(msg):
                    data = client.recv(len(msg) - len(reply))
                    if not data:
                        if variant == "spinning":
                            continue
                        return closed()
                    reply += data
            print(reply.decode(errors="replace"), flush=variant != "no-flush")
    except OSError as e:
        print(f"client: {e}", file=sys.stderr)
        return 1
    return 1 if variant == "exits-1" else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in VARIANTS:
        sys.exit(f"usage: variants.py {{{'|'.join(VARIANTS)}}} PORT_OR_PATH")
    if sys.argv[1] == "reader-thread":
        import threading

        status = []
        worker = threading.Thread(target=lambda: status.append(main(sys.argv[1], sys.argv[2])))
        worker.start()
        worker.join()
        sys.exit(status[0] if status else 1)
    sys.exit(main(sys.argv[1], sys.argv[2]))
