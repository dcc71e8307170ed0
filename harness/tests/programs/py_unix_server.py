#!/usr/bin/env python3
"""Imitates: the tutorial's server ("加上链接循环与通信循环", connection loop + communication loop)
ported to AF_UNIX the way Unix-socket tutorials (PyMOTW "Unix Domain Sockets") do it, with the
unlink-before-bind that plays the role of SO_REUSEADDR for a socket file, but only for a socket
file (PyMOTW's version deletes whatever is at the path). The socket path from argv.

    python3 py_unix_server.py PATH

Expected verdict: correct, sequential: every Unix scenario passes (the concurrent-model ones are
skipped). A regular file at the path makes bind() fail (exit 1, traceback), which is the refusal
regular_file_at_socket_path_is_kept asks for.
"""
import os
import socket
import stat
import sys

server_address = sys.argv[1]

# Make sure a socket left by a crashed server does not stop us (but never delete anything else)
try:
    if stat.S_ISSOCK(os.lstat(server_address).st_mode):
        os.unlink(server_address)
except FileNotFoundError:
    pass

phone = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
phone.bind(server_address)
phone.listen(5)
print("server start===")
while True:  # connection loop
    conn, client_addr = phone.accept()
    while True:  # communication loop
        try:
            client_data = conn.recv(1024)
            if not client_data:
                break
            conn.sendall(client_data.upper())
        except OSError:  # ConnectionResetError, BrokenPipeError
            break
    conn.close()
