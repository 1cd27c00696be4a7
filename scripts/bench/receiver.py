#!/usr/bin/env python3
"""The webhook receiver of scripts/bench.sh: answers every POST 204 at once and counts them.

  receiver.py PORT
      Listens on 127.0.0.1:PORT (HTTP/1.1, keep-alive, asyncio streams, standard library only).
      GET /count answers the number of POSTs received so far. No signature is checked: the
      benchmark measures the service's delivery, not a consumer's verification.
"""

import asyncio
import sys

received = 0


async def serve(reader, writer):
    global received
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0]
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if method == b"POST":
                received += 1
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            else:
                body = str(received).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
