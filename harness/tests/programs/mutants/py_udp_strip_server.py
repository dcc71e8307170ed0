#!/usr/bin/env python3
"""Imitates: the Python docs, socketserver "UDPServer Example" (MyUDPHandler with
`data = self.request[0].strip()`, `socket = self.request[1]` and
`socket.sendto(data.upper(), self.client_address)`), only the port from argv and
max_packet_size raised to 65536 (the docs' 8192 cuts longer datagrams, a bug sockcheck's
catalogue already names: `largest_udp_payload_comes_back_whole`).

    python3 harness/tests/programs/mutants/py_udp_strip_server.py PORT     (check with --transport udp)

Its one bug, the docs example's own (a mutant, kept to be caught): .strip() eats the whitespace
at both ends of every datagram, so "  hi \\n" comes back as "HI". It passes every catalogue
scenario of sockcheck before `datagram_whitespace_at_both_ends_comes_back` (see README.md here).
"""
import socketserver
import sys


class MyUDPHandler(socketserver.BaseRequestHandler):
    """
    This class works similar to the TCP handler class, except that
    self.request consists of a pair of data and client socket, and since
    there is no connection the client address must be given explicitly
    when sending data back via sendto().
    """

    def handle(self):
        data = self.request[0].strip()
        socket = self.request[1]
        print("{} wrote:".format(self.client_address[0]))
        print(data)
        socket.sendto(data.upper(), self.client_address)


class UDPServer(socketserver.UDPServer):
    max_packet_size = 65536
    allow_reuse_address = True


if __name__ == "__main__":
    HOST, PORT = "localhost", int(sys.argv[1])
    with UDPServer((HOST, PORT), MyUDPHandler) as server:
        server.serve_forever()
