#!/usr/bin/env python3
"""Imitates: the Python docs, asyncio "Streams" echo server, done right: a read loop until EOF,
bytes uppercased with bytes.upper() (ASCII only), drain() after each write. TCP port or Unix path
from argv (asyncio.start_unix_server; a stale socket file is removed, anything else refused).

    python3 py_asyncio_upper.py PORT|PATH

Expected verdict: correct, concurrent: every scenario passes over TCP and Unix sockets (the
concurrent-model ones run, the sequential one is skipped).
"""
import asyncio
import os
import stat
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data.upper())
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


async def main(where):
    if where.isdigit():
        server = await asyncio.start_server(handle, "127.0.0.1", int(where))
    else:
        try:
            if stat.S_ISSOCK(os.lstat(where).st_mode):
                os.unlink(where)  # a stale socket file from a crashed server
        except FileNotFoundError:
            pass
        server = await asyncio.start_unix_server(handle, where)
    async with server:
        await server.serve_forever()


asyncio.run(main(sys.argv[1]))
