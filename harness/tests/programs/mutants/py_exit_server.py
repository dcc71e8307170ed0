#!/usr/bin/env python3
"""Imitates: the tutorial's stream server (socket, SO_REUSEADDR, bind, listen(5), an accept loop
around a recv(1024) / send(data.upper()) loop), ported to Python 3 with its bugs fixed (sendall,
a client that resets ends only its own connection), plus what many learners add next: a way for
the client to "hang up" by typing a word. The port from argv.

    python3 harness/tests/programs/mutants/py_exit_server.py PORT

Its one bug (a mutant, written to be caught): after answering a message that is, stripped and
lowercased, `exit`, `quit` or `bye`, it closes the connection. In this protocol every message is
text to echo, and a client ends the conversation by closing its socket, so a client that sends
"exit" and then anything else gets EOF instead of a reply. It passes every catalogue scenario
of sockcheck before `command_words_are_echoed_like_any_text` (see README.md here).
"""
import socket
import sys

COMMANDS = (b"exit", b"quit", b"bye")

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)

while True:
    conn, addr = server.accept()
    with conn:
        try:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(data.upper())
                if data.strip().lower() in COMMANDS:  # the bug: the client said goodbye
                    break
        except (ConnectionResetError, BrokenPipeError) as e:
            print(f"client gone: {e}", file=sys.stderr)
