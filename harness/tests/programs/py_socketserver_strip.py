#!/usr/bin/env python3
"""Imitates: the Python docs, socketserver "TCPServer Example" (MyTCPHandler with
self.request.recv(1024).strip() and sendall(self.data.upper())), only the port from argv.

    python3 py_socketserver_strip.py PORT

Expected verdict: FAIL. Its bugs, all of them the docs example's:
- one reply per connection: handle() runs once, then socketserver closes the connection, so a
  second message on the same connection gets EOF (or a reset) instead of a reply;
- one recv(1024) is taken as the whole message (a 64 KiB send gets 1024 bytes back);
- .strip() eats leading/trailing whitespace of what was received;
- TCPServer does not set SO_REUSEADDR (allow_reuse_address is False): because the server closes
  each connection first, its port is full of TIME_WAIT sockets and a restart cannot bind.
It is sequential (one handler at a time): a correct tool must not call it "concurrent" because
it closes each connection after one reply.
"""
import socketserver
import sys


class MyTCPHandler(socketserver.BaseRequestHandler):
    """
    The request handler class for our server.

    It is instantiated once per connection to the server, and must
    override the handle() method to implement communication to the
    client.
    """

    def handle(self):
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print("Received from {}:".format(self.client_address[0]))
        print(self.data)
        # just send back the same data, but upper-cased
        self.request.sendall(self.data.upper())


if __name__ == "__main__":
    HOST, PORT = "localhost", int(sys.argv[1])

    # Create the server, binding to localhost on port PORT
    with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
        # Activate the server; this will keep running until you
        # interrupt the program with Ctrl-C
        server.serve_forever()
