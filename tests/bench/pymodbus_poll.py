#!/usr/bin/python3
"""The pymodbus baseline of fleet_bench (issue 15): a plain Python script polling the same
monitors with the same reads, all of them back to back once a second, as a clinic's own script
would. Run by fleet_bench, not by hand:

    pymodbus_poll.py SECONDS PORT:UNIT,... TABLE:ADDRESS:COUNT,...

TABLE is `holding` or `input`. Prints one JSON object: polls, errors, CPU µs per poll (this
process's user + system time while polling), RSS. Needs Debian's python3-pymodbus (3.0).
"""
import json
import resource
import sys
import time

from pymodbus.client import ModbusTcpClient


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def cpu_us():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (ru.ru_utime + ru.ru_stime) * 1e6


def main():
    seconds = float(sys.argv[1])
    monitors = [tuple(int(x) for x in m.split(":")) for m in sys.argv[2].split(",")]
    blocks = []
    for b in sys.argv[3].split(","):
        table, address, count = b.split(":")
        blocks.append((table, int(address), int(count)))
    clients = {}  # one connection per server (a gateway's units share it)
    for port, _ in monitors:
        if port not in clients:
            # pymodbus 3.0 keeps the timeout as an int (0.5 would be 0: a non-blocking connect)
            c = ModbusTcpClient("127.0.0.1", port=port, timeout=1)
            if not c.connect():
                print(f"cannot connect to port {port}", file=sys.stderr)
                return 1
            clients[port] = c
    polls = errors = 0
    t0 = time.monotonic() + 0.1
    end = t0 + seconds
    time.sleep(max(0.0, t0 - time.monotonic()))
    cpu0 = cpu_us()
    tick = t0
    while tick < end:
        time.sleep(max(0.0, tick - time.monotonic()))
        for port, unit in monitors:
            c = clients[port]
            ok = True
            for table, address, count in blocks:
                if table == "input":
                    r = c.read_input_registers(address, count, slave=unit)
                else:
                    r = c.read_holding_registers(address, count, slave=unit)
                ok = ok and not r.isError() and len(r.registers) == count
            polls += 1
            if not ok:
                errors += 1
        tick += 1.0
    cpu = cpu_us() - cpu0
    print(json.dumps({"mode": "pymodbus", "polls": polls, "errors": errors,
                      "cpu_us_per_poll": cpu / polls if polls else 0, "rss_mib": rss_mib()}))
    for c in clients.values():
        c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
