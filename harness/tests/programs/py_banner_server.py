#!/usr/bin/env python3
"""Imitates: the tutorial's server (connection loop + communication loop, SO_REUSEADDR, listen(5)),
plus a greeting sent on every accepted connection, as in Node's `net` docs example
(c.write('hello\\r\\n')) and many chat/telnet tutorials. The port from argv.

    python3 py_banner_server.py PORT

Expected verdict: FAIL on every scenario that reads from the server, with one cause: the server
sends 7 bytes before being asked, "hello\\r\\n" (a greeting/banner). The echo itself is correct
(sendall, a loop until EOF, survives resets), so nothing else may be blamed.
"""
import socket
import sys

phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
phone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
phone.bind(("127.0.0.1", int(sys.argv[1])))
phone.listen(5)
print("server start===", flush=True)
while True:  # connection loop
    conn, client_addr = phone.accept()
    try:
        conn.sendall(b"hello\r\n")  # the greeting
        while True:  # communication loop
            client_data = conn.recv(1024)
            if not client_data:
                break
            conn.sendall(client_data.upper())
    except (ConnectionResetError, BrokenPipeError):
        pass
    conn.close()
