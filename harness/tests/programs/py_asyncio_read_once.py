#!/usr/bin/env python3
"""Imitates: the Python docs, asyncio "Streams" page, "TCP echo server using streams"
(handle_echo: await reader.read(100), write, drain, close), uppercased; the port from argv.

    python3 py_asyncio_read_once.py PORT

Expected verdict: FAIL, concurrent (asyncio serves every connection at once). Its bug: one
read(100) per connection, then the connection is closed: a second message on the connection
gets EOF, anything over 100 bytes gets 100 bytes back. It prints each message with
data.decode(), which raises on non-UTF-8 bytes (logged by asyncio on stderr; the server goes on).
"""
import asyncio
import sys


async def handle_echo(reader, writer):
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info("peername")

    print(f"Received {message!r} from {addr!r}")

    print(f"Send: {message!r}")
    writer.write(data.upper())
    await writer.drain()

    print("Close the connection")
    writer.close()
    await writer.wait_closed()


async def main():
    server = await asyncio.start_server(handle_echo, "127.0.0.1", int(sys.argv[1]))

    addrs = ", ".join(str(sock.getsockname()) for sock in server.sockets)
    print(f"Serving on {addrs}")

    async with server:
        await server.serve_forever()


asyncio.run(main())
