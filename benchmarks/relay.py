"""A delaying TCP relay: adds a fixed one-way delay to every chunk, in each direction.

    python benchmarks/relay.py --upstream PORT --delay-ms 250

Listens on 127.0.0.1 (an ephemeral port, printed on standard output once it accepts) and
forwards each connection to 127.0.0.1:UPSTREAM. Every chunk read from either side is written to
the other side ``delay`` seconds after it arrived, in order: a link with that one-way latency and
no bandwidth limit. A TLS 1.3 handshake through it takes two delays (the ClientHello one way,
the server's flight back), the client's Finished one more on its way to the server, which the
client does not wait for. A connection ends when either side ends; the bytes already in flight
are still delivered first, so the server sees every handshake complete.

It runs in a process of its own so that its CPU is not the scanner's. Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import signal
import sys

_CHUNK = 65536
_BACKLOG = 4096


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if not data:
                return
            sink.write(data)
            await sink.drain()

    delivery = asyncio.create_task(deliver())
    try:
        while not delivery.done():
            try:
                data = await source.read(_CHUNK)
            except OSError:  # a reset ends this side like a close
                data = b""
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await delivery
    finally:
        delivery.cancel()


async def _relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: int, delay: float
) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        writer.transport.abort()
        return
    pipes = {
        asyncio.create_task(_pipe(reader, up_writer, delay)),
        asyncio.create_task(_pipe(up_reader, writer, delay)),
    }
    try:
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        writer.transport.abort()
        up_writer.transport.abort()


async def serve(upstream: int, delay: float) -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # At the stop, the last connections may still be delivering their close (it takes a
        # delay too): they are cancelled, quietly.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await _relay(reader, writer, upstream, delay)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=_BACKLOG)
    async with server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=int, required=True, metavar="PORT")
    parser.add_argument("--delay-ms", type=float, required=True, metavar="MS")
    args = parser.parse_args()
    try:  # optional, as for snisweep itself (and not installed where mypy runs in CI)
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(serve(args.upstream, args.delay_ms / 1000))
    else:
        uvloop.run(serve(args.upstream, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
