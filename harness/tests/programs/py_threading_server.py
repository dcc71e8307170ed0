#!/usr/bin/env python3
"""Imitates: the Python docs, socketserver "Asynchronous Mixins" example (ThreadingTCPServer, a
thread per connection), with the tutorial's communication loop in handle(); the port from argv.

    python3 py_threading_server.py PORT

Expected verdict: correct (concurrent) EXCEPT restarted_server_binds_at_once: ThreadingTCPServer
leaves allow_reuse_address False (no SO_REUSEADDR), so started again while the port still has a
connection in FIN_WAIT/TIME_WAIT, bind() fails with "Address already in use". That scenario and
no other must fail. (A client that resets makes socketserver print a ConnectionResetError
traceback on stderr; the server goes on, which is correct.)
"""
import socketserver
import sys


class ThreadedTCPRequestHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            self.request.sendall(data.upper())


class ThreadedTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True  # no allow_reuse_address = True: the bug


if __name__ == "__main__":
    HOST, PORT = "127.0.0.1", int(sys.argv[1])
    with ThreadedTCPServer((HOST, PORT), ThreadedTCPRequestHandler) as server:
        server.serve_forever()
