#!/usr/bin/python3
"""A second throughput probe, sharing no code with xenstore-dbus-bench.

The bench's clients are sd-bus connections written for it. This probe's are
what many existing services are: libdbus through dbus-python (Debian's
python3-dbus), one process and one connection per client, each calling in a
closed loop. It compares Read of one key with Peer.Ping and with the
cheapest call that carries arguments and a string answer,
Properties.Get(Version), kinds taking turns window by window.

Run it against a daemon that does not log each request:

    scripts/run-local --quiet &
    /usr/bin/python3 bench/probe-libdbus.py unix:path=$PWD/.run/bus

Arguments after the address: connections (64), seconds per window (2),
rounds (5).
"""
import multiprocessing
import statistics
import sys
import time

import dbus

NAME = "org.xenproject.XenStore1"
PATH = "/org/xenproject/XenStore1"
KEY = "/probe-libdbus/key"


def caller(bus, kind):
    """A function making one call of `kind` on `bus`."""
    if kind == "Ping":
        return lambda: bus.call_blocking(NAME, PATH, "org.freedesktop.DBus.Peer", "Ping", "", ())
    if kind == "Get":
        return lambda: bus.call_blocking(NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
                                         "ss", (NAME, "Version"))
    return lambda: bus.call_blocking(NAME, PATH, NAME, "Read", "s", (KEY,))


def client(address, kind, start, stop, counts):
    call = caller(dbus.bus.BusConnection(address), kind)
    call()  # connected and identified before the window opens
    while time.time() < start:
        time.sleep(0.001)
    n = 0
    while time.time() < stop:
        call()
        n += 1
    counts.put(n)


def window(address, kind, connections, seconds):
    """Calls per second of `connections` clients calling `kind` together."""
    counts = multiprocessing.Queue()
    start = time.time() + 1.0  # time for every client to connect
    stop = start + seconds
    clients = [multiprocessing.Process(target=client, args=(address, kind, start, stop, counts))
               for _ in range(connections)]
    for c in clients:
        c.start()
    total = sum(counts.get() for _ in clients)
    for c in clients:
        c.join()
    return total / seconds


def main():
    address = sys.argv[1]
    connections, seconds, rounds = (int(sys.argv[2]) if len(sys.argv) > 2 else 64,
                                    float(sys.argv[3]) if len(sys.argv) > 3 else 2.0,
                                    int(sys.argv[4]) if len(sys.argv) > 4 else 5)
    dbus.bus.BusConnection(address).call_blocking(NAME, PATH, NAME, "Write", "ss", (KEY, "value"))
    kinds = ["Ping", "Get", "Read"]
    rates = {k: [] for k in kinds}
    for r in range(rounds):
        for kind in kinds if r % 2 == 0 else reversed(kinds):  # no kind always goes first
            rates[kind].append(window(address, kind, connections, seconds))
        print(f"round {r + 1}: " + "  ".join(f"{k} {rates[k][-1]:.0f}/s" for k in kinds) +
              f"  Get/Ping {rates['Get'][-1] / rates['Ping'][-1]:.2f}"
              f"  Read/Ping {rates['Read'][-1] / rates['Ping'][-1]:.2f}", flush=True)
    median = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{connections} connections, median of {rounds} windows of {seconds:g} s: " +
          "  ".join(f"{k} {median[k]:.0f}/s" for k in kinds) +
          f"  Get/Ping {median['Get'] / median['Ping']:.2f}"
          f"  Read/Ping {median['Read'] / median['Ping']:.2f}")


if __name__ == "__main__":
    main()
