#!/usr/bin/env python3
"""How fast /healthz answers while idle sockets and slowloris clients press on the connection cap.

Opens IDLE sockets that never send a byte and SLOWLORIS clients that send a request head one
header line every --trickle seconds; both reconnect when the server closes them, as an attacker
would. Once they are in place, starts --probes health probes, --spacing seconds apart, each on a
new connection (as kubelet's are) with a --timeout, and prints how long they took. The attackers
run in a process of their own, so that a probe is not held up by its own client.

    scripts/edge-probe.py 127.0.0.1:8080 --idle 5000 --slowloris 600

Needs an open-file limit above IDLE + SLOWLORIS + 100 (`ulimit -n`). See docs/limits.md.
"""

import argparse
import asyncio
import multiprocessing
import statistics
import time


async def hold_idle(host, port, stop, counts):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counts["refused"] += 1
            await asyncio.sleep(0.1)
            continue
        counts["opened"] += 1
        # Silent until the server closes it.
        await reader.read(1)
        writer.close()
        await asyncio.sleep(0.1)


async def slowloris(host, port, trickle, stop, counts):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            counts["opened"] += 1
            while not stop.is_set():
                await asyncio.sleep(trickle)
                if reader.at_eof():
                    break
                writer.write(b"X-Slow: a\r\n")
                await writer.drain()
        except OSError:
            pass
        await asyncio.sleep(0.05)


async def probe(host, port, timeout):
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout - (time.monotonic() - started))
        writer.close()
        ok = answer.startswith(b"HTTP/1.1 200")
    except (OSError, asyncio.TimeoutError):
        ok = False
    return time.monotonic() - started, ok


async def attack(host, port, args, report):
    stop = asyncio.Event()
    idle_counts = {"opened": 0, "refused": 0}
    loris_counts = {"opened": 0}
    tasks = [asyncio.create_task(hold_idle(host, port, stop, idle_counts))
             for _ in range(args.idle)]
    tasks += [asyncio.create_task(slowloris(host, port, args.trickle, stop, loris_counts))
              for _ in range(args.slowloris)]
    # Until the probes are done: the parent closes the pipe.
    await asyncio.get_running_loop().run_in_executor(None, report.recv)
    report.send((idle_counts, loris_counts))
    stop.set()
    for task in tasks:
        task.cancel()


def run_attack(host, port, args, report):
    asyncio.run(attack(host, port, args, report))


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="host:port of the service")
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--slowloris", type=int, default=600)
    parser.add_argument("--trickle", type=float, default=1.0, help="seconds between header lines")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--spacing", type=float, default=0.1, help="seconds between probes")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds a probe may take")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before probing")
    args = parser.parse_args()
    host, port = args.address.rsplit(":", 1)
    port = int(port)

    here, there = multiprocessing.Pipe()
    attacker = multiprocessing.Process(target=run_attack, args=(host, port, args, there))
    attacker.start()
    await asyncio.sleep(args.settle)

    probes = []
    for _ in range(args.probes):
        probes.append(asyncio.create_task(probe(host, port, args.timeout)))
        await asyncio.sleep(args.spacing)
    results = await asyncio.gather(*probes)
    here.send("done")
    idle_counts, loris_counts = here.recv()
    attacker.terminate()

    times = sorted(t for t, _ in results)
    failed = sum(1 for _, ok in results if not ok)
    p99 = times[max(0, round(0.99 * len(times)) - 1)]
    print(f"idle={args.idle} slowloris={args.slowloris} probes={len(times)} failed={failed}")
    print(f"healthz p50={statistics.median(times) * 1000:.1f} ms  p99={p99 * 1000:.1f} ms  "
          f"max={times[-1] * 1000:.1f} ms")
    print(f"idle connections opened={idle_counts['opened']} refused={idle_counts['refused']}  "
          f"slowloris connections opened={loris_counts['opened']}")


if __name__ == "__main__":
    asyncio.run(main())
