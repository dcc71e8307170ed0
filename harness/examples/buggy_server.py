#!/usr/bin/env python3
"""The tutorial's uppercase-echo server as students often write it, bugs included.

    python3 buggy_server.py PORT     # TCP on 127.0.0.1:PORT
    python3 buggy_server.py PATH     # Unix socket at PATH

The bugs, each one a line of the tutorial or of a common copy of it:
1. no try/except around the communication loop: a client that resets (or vanishes in the
   middle of a reply) raises ConnectionResetError / BrokenPipeError, and the whole server dies;
2. for a Unix socket, whatever is at the path is deleted before binding (`os.remove`), a
   regular file included;
3. send() instead of sendall(). On Linux a blocking send() of 1024 bytes queues them all, so
   this one stays latent here; it bites with larger buffers or non-blocking sockets.

Check it with:  sockcheck check --spawn "python3 harness/examples/buggy_server.py {port}"
sockcheck fails it on reset_client_does_not_stop_the_server and
client_vanishing_mid_reply_does_not_stop_the_server (and, over a Unix socket, on
regular_file_at_socket_path_is_kept).
"""
import os
import socket
import sys

where = sys.argv[1]
if where.isdigit():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(where)))
else:
    if os.path.exists(where):
        os.remove(where)  # bug 2: deletes whatever is there
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(where)
server.listen(5)

while True:
    conn, addr = server.accept()
    while True:  # bug 1: no try/except
        data = conn.recv(1024)
        if not data:
            break
        conn.send(data.upper())  # bug 3: send, not sendall
    conn.close()
