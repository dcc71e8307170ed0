#!/usr/bin/env python3
"""Imitates: the tutorial's client as written there (`msg=input('>>: ').strip()`,
`if not msg:continue`, send, recv, print), ported to Python 3 with its bugs fixed: sendall, the
whole reply read (the reply to N bytes is N bytes), end of input and a lost server handled.
It keeps the tutorial's prompt: input('>>: ') prints ">>: " (no newline) before every line, so
stdout reads ">>: HELLO\\n>>: ". The port from argv.

    python3 py_prompt_client.py PORT

Expected verdict: correct: every client scenario passes, with the prompt ">>: " detected (or given
with --prompt '>>: '). input() flushes stdout before it waits, so pipes do not hide its replies.
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
