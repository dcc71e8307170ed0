#!/usr/bin/env python3
"""Imitates: "multi-client chat server" tutorials (threading.Thread(target=handle_client) per
accept, text handled as str: data.decode() ... .upper().encode()). The port from argv.

    python3 py_thread_dies.py PORT

Expected verdict: FAIL, concurrent. Its bugs:
- data.decode() raises UnicodeDecodeError on bytes that are not UTF-8 (byte 0x80, random data, or
  a UTF-8 character cut in two by recv(1024)): the handler thread dies with a traceback on stderr
  ("Exception in thread ... UnicodeDecodeError: 'utf-8' codec can't decode byte ..."), the
  connection is closed, and the server process keeps running. A correct tool shows that traceback
  (its first and last lines) in the failure of the scenario that caused it;
- str.upper() changes non-ASCII letters (é -> É, ß -> SS): only a-z may change.
"""
import socket
import sys
import threading


def handle_client(conn, addr):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            text = data.decode()  # bug: not every byte sequence is UTF-8
            conn.sendall(text.upper().encode())


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
while True:
    conn, addr = server.accept()
    thread = threading.Thread(target=handle_client, args=(conn, addr))
    thread.start()
