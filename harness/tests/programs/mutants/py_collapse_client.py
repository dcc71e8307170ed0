#!/usr/bin/env python3
"""Imitates: the tutorial's client (`msg = input('>>: ').strip()`, `if not msg: continue`, send,
print the reply), ported to Python 3 with its bugs fixed (sendall, the whole reply read: the reply
to N bytes is N bytes, end of input and a lost server handled), plus a "tidy-up" of the typed line
that looks harmless: `' '.join(msg.split())`. The port from argv.

    python3 harness/tests/programs/mutants/py_collapse_client.py PORT

Its one bug (a mutant, written to be caught): whitespace inside a line is collapsed, so
"two  spaces\\tand a tab" is sent as "two spaces and a tab". Only the ends of a line are
stripped; what is inside is the message. It passes every catalogue scenario of
`sockcheck check-client` before `spaces_and_tabs_inside_a_line_are_sent_as_typed` (see README.md here).
"""
import socket
import sys

try:
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.connect(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.exit(f"cannot connect: {e}")

while True:
    try:
        msg = input(">>: ").strip()
    except EOFError:
        break
    if not msg:
        continue
    msg = " ".join(msg.split())  # the bug: the inside of the line is changed
    data = msg.encode("utf-8")
    try:
        phone.sendall(data)
        server_data = b""
        while len(server_data) < len(data):
            part = phone.recv(1024)
            if not part:
                sys.exit("\nthe server closed the connection")
            server_data += part
    except OSError as e:
        sys.exit(f"\nconnection lost: {e}")
    print(server_data.decode("utf-8"))
phone.close()
