"""dhcp IPAM: pycni vs the Go binary (/usr/lib/cni/dhcp, Debian 1.1.1), exec and daemon, on one dnsmasq.

1. Latency: whole-process ADD then DEL of a new container (spawn to exit, so the exec's start-up, the RPC
   and the daemon's DHCP exchange), for every exec x daemon pairing, rounds alternated; medians.
2. Scale: one daemon at a time holds `--leases` leases (one per veth container, all on one bridge) with
   short renewal times (T1/T2 from dnsmasq), each address put on its link as a main plugin would; reported: time to fill, the daemon's CPU over `--hold` seconds
   of pure maintenance, its RSS and threads, the DHCPACKs dnsmasq sent meanwhile, time to DEL them all.
Everything runs inside throwaway namespaces (tests/kernel/dhcp_net.py); the daemons listen on sockets in a
temporary directory. Needs root and dnsmasq. Not a test: nothing asserts a time.

    python3 bench/dhcp_bench.py [--runs 15] [--leases 200] [--hold 60] [--t1 10] [--out bench/RESULTS-dhcp.md]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "kernel"))

from dhcp_net import dhcp_net

from pycni.cli.install import install

GO = "/usr/lib/cni/dhcp"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def conf(sock: str) -> bytes:
    return json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "macvlan",
                       "ipam": {"type": "dhcp", "daemonSocketPath": sock}}).encode()


def run_exec(exe: str, command: str, cid: str, netns: str, sock: str, configure: str = "") -> float:
    """One whole exec, timed; with `configure` (the container's netns name) the leased address is then put on
    eth0, as the main plugin would (renewal ACKs are unicast to it)."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/opt/cni/bin", "PATH": "/usr/bin:/bin"}
    t0 = time.perf_counter()
    p = subprocess.run([exe], input=conf(sock), env=env, capture_output=True, timeout=300, check=False)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{exe} {command} {cid}: {p.stdout.decode()} {p.stderr.decode()[-500:]}")
    if configure:
        addr = json.loads(p.stdout)["ips"][0]["address"]
        subprocess.run(["ip", "-n", configure, "addr", "add", addr, "dev", "eth0"], check=True, capture_output=True)
    return dt


def start_daemon(cmd: list[str], sock: str) -> subprocess.Popen:
    log = open(sock + ".log", "wb")  # noqa: SIM115 - lives as long as the daemon
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    end = time.monotonic() + 20
    while not os.path.exists(sock):
        if p.poll() is not None or time.monotonic() > end:
            with open(sock + ".log") as f:
                raise RuntimeError(f"daemon {cmd} did not start: {f.read()}")
        time.sleep(0.05)
    return p


def stop_daemon(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def daemons(pycni: str, tmp: str, tag: str) -> dict[str, tuple[list[str], str]]:
    ps, gs = os.path.join(tmp, f"p{tag}.sock"), os.path.join(tmp, f"g{tag}.sock")
    return {
        "pycni": ([pycni, "daemon", "-socketpath", ps, "-statedir", os.path.join(tmp, f"st{tag}")], ps),
        "go": ([GO, "daemon", "-socketpath", gs], gs),
    }


def latency(pycni: str, tmp: str, runs: int) -> dict[str, dict[str, float]]:
    execs = {"pycni": pycni, "go": GO}
    times: dict[str, dict[str, list[float]]] = {}
    with dhcp_net(["veth"]) as net:
        c = net.containers[0]
        procs = {}
        try:
            for name, (cmd, sock) in daemons(pycni, tmp, "l").items():
                procs[name] = (start_daemon(cmd, sock), sock)
            pairs = [(e, d) for e in execs for d in procs]
            for i in range(runs + 1):  # round 0 warms caches and is dropped
                for k, (e, d) in enumerate(pairs[i % len(pairs):] + pairs[: i % len(pairs)]):
                    cid = f"b{i}x{k}{e[0]}{d[0]}"
                    add = run_exec(execs[e], "ADD", cid, c.netns, procs[d][1])
                    dele = run_exec(execs[e], "DEL", cid, c.netns, procs[d][1])
                    if i:
                        t = times.setdefault(f"{e} exec -> {d} daemon", {"ADD": [], "DEL": []})
                        t["ADD"].append(add)
                        t["DEL"].append(dele)
        finally:
            for p, _ in procs.values():
                stop_daemon(p)
    return {k: {cmd: statistics.median(v) * 1000 for cmd, v in t.items()} for k, t in times.items()}


def scale(pycni: str, tmp: str, name: str, leases: int, hold: float, t1: int) -> dict[str, float]:
    n_cont = leases  # one lease per container: several client-ids on one MAC confuse dnsmasq's offers
    execs = {"pycni": pycni, "go": GO}
    with dhcp_net(["veth"] * n_cont, t1=t1, t2=2 * t1, lease_time="2m", pool=(2, 254)) as net:
        cmd, sock = daemons(pycni, tmp, "s" + name)[name]
        p = start_daemon(cmd, sock)
        try:
            conts = [net.containers[j % n_cont] for j in range(leases)]
            jobs = [(f"s{j}", c.netns, c.ns) for j, c in enumerate(conts)]
            for c in net.containers:
                subprocess.run(["ip", "-n", c.ns, "link", "set", "eth0", "up"], check=True)
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda a: run_exec(execs[name], "ADD", a[0], a[1], sock, a[2]), jobs))
            fill = time.perf_counter() - t0
            time.sleep(2)
            acks0 = net.log().count("DHCPACK")
            cpu0, w0 = cpu_seconds(p.pid), time.monotonic()
            time.sleep(hold)
            cpu1, w1 = cpu_seconds(p.pid), time.monotonic()
            acks = net.log().count("DHCPACK") - acks0
            st = status(p.pid)
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda a: run_exec(execs[name], "DEL", a[0], a[1], sock), jobs))
            drain = time.perf_counter() - t0
        finally:
            stop_daemon(p)
    return {"fill_s": fill, "cpu_pct": 100 * (cpu1 - cpu0) / (w1 - w0), "rss_mib": int(st["VmRSS"].split()[0]) / 1024,
            "hwm_mib": int(st["VmHWM"].split()[0]) / 1024, "threads": int(st["Threads"]), "acks": acks,
            "del_s": drain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--leases", type=int, default=200)
    ap.add_argument("--hold", type=float, default=60.0)
    ap.add_argument("--t1", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS-dhcp.md"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pycni-dhcpb-")
    try:
        install(os.path.join(tmp, "bin"), ["dhcp"])
        pycni = os.path.join(tmp, "bin", "dhcp")
        load0 = os.getloadavg()[0]
        lat = latency(pycni, tmp, a.runs)
        sc = {name: scale(pycni, tmp, name, a.leases, a.hold, a.t1) for name in ("pycni", "go")}
        load1 = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = lat["go exec -> go daemon"]
    lines = [
        "# dhcp IPAM: pycni vs the Go binary",
        "",
        (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, "
         f"{os.cpu_count()} CPUs, kernel {platform.release()}, Python {platform.python_version()}; "
         f"load average {load0:.2f} at start, {load1:.2f} at end. Go: `{GO}` (Debian 1.1.1). pycni: the launcher "
         "from `pycni install-plugins`. dnsmasq in its own netns, `--no-ping`; reproduce: `python3 bench/dhcp_bench.py`."),
        "",
        f"## ADD / DEL latency, whole process, median of {a.runs} (new container each time)",
        "",
        "| exec -> daemon | ADD ms | DEL ms | Go/Go ÷ this (ADD) | Go/Go ÷ this (DEL) |",
        "|---|---|---|---|---|",
    ]
    for k, t in lat.items():
        lines.append(f"| {k} | {t['ADD']:.1f} | {t['DEL']:.1f} | {base['ADD'] / t['ADD']:.2f}× | "
                     f"{base['DEL'] / t['DEL']:.2f}× |")
    lines += [
        "",
        f"## {a.leases} leases held, T1 {a.t1} s, T2 {2 * a.t1} s, lease 2 min ({a.hold:.0f} s of maintenance)",
        "",
        ("| daemon | fill (8 parallel ADDs) s | CPU % of one core | RSS MiB | peak RSS MiB | threads | DHCPACKs "
         "in window | DEL all s |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in sc.items():
        lines.append(f"| {name} | {r['fill_s']:.1f} | {r['cpu_pct']:.2f} | {r['rss_mib']:.1f} | {r['hwm_mib']:.1f} | "
                     f"{r['threads']} | {r['acks']} | {r['del_s']:.1f} |")
    text = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
