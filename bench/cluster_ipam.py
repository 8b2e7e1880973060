"""cluster-ipam vs a whereabouts-style single-key CAS baseline, on a real 3-member etcd (127.0.0.1).

N simulated nodes (threads, each exec'ing one call after another with its own NODENAME) run M ADDs
each, then every DEL. Both implementations are exec'd per call with the same interpreter and the
same stdlib gateway client (the baseline is bench/cluster_ipam_baseline.py), in the same etcd run,
alternating per N. Not a test: nothing asserts a time. Writes bench/RESULTS-cluster-ipam.md.

    python3 bench/cluster_ipam.py [--nodes 1,8,32] [--adds 60,240,256] [--out bench/RESULTS-cluster-ipam.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SRC = os.path.join(ROOT, "src")
sys.path[:0] = [SRC, os.path.join(ROOT, "tests")]

import cluster_ipam_baseline as BL
import cluster_ipam_exec as X
import etcd_cluster

from pycni.plugins.ipam.cluster_ipam import config as C
from pycni.plugins.ipam.cluster_ipam.blocks import endpoint_start
from pycni.plugins.ipam.cluster_ipam.engine import Engine
from pycni.plugins.ipam.cluster_ipam.etcd import Client, Endpoint

BASELINE = os.path.join(HERE, "cluster_ipam_baseline.py")


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else 0.0


def run_baseline(endpoints: list[str], cmd: str, cid: str) -> X.Exec:
    env = {"BASE_ENDPOINTS": ",".join(endpoints), "BASE_CMD": cmd, "BASE_CID": cid,
           "BASE_BACKOFF_MS": os.environ.get("BASE_BACKOFF_MS", "0")}
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-I", "-S", BASELINE, SRC], env=env, capture_output=True, check=False)
    r = X.Exec(p.returncode, b"", p.stderr, time.monotonic() - t)
    r.out = {"ips": [{"address": p.stdout.decode().strip()}]} if p.returncode == 0 and cmd == "ADD" else None
    for part in p.stderr.decode().split():
        k, _, v = part.partition("=")
        if v.isdigit():
            r.stats[k] = int(v)
    return r


def inproc_calls(impl: str, eps: list[str], lock_dir: str, net: str, tag: str) -> tuple[Any, Any]:
    """ADD and DEL callables running the same code in this process: one client per node thread,
    no interpreter start (what the etcd side alone sustains)."""
    per_node: dict[int, Any] = {}
    conf = X.conf(eps, lock_dir, name=net, range="10.101.0.0/16")

    def get(i: int) -> Any:
        if i not in per_node:
            if impl == "cluster-ipam":
                cfg = C.load(conf, {"NODENAME": f"node{i}"})
                cl = Client(cfg.endpoints, endpoint_start(cfg.node, len(eps)), cfg.attempt, cfg.budget)
                per_node[i] = (Engine(cfg, cl), {})
            else:
                per_node[i] = Client([Endpoint(e, False) for e in eps], start=i % len(eps), budget=4.0)
        return per_node[i]

    def call(cmd: str, i: int, j: int) -> X.Exec:
        cid = f"{tag}n{i}c{j}"
        t = time.monotonic()
        if impl == "cluster-ipam":
            eng, hints = get(i)
            rt0, before = eng.c.round_trips, dict(eng.stats)
            try:
                if cmd == "ADD":
                    ips = [e["address"] for e in eng.add(cid, "eth0", {}, hints)]
                else:
                    eng.release(cid, "eth0")
                    ips = []
                rc = 0
            except Exception:  # noqa: BLE001 - counted as a failure
                rc, ips = 1, []
            r = X.Exec(rc, b"", b"", time.monotonic() - t)
            r.stats = {k: eng.stats[k] - before[k] for k in eng.stats}
            r.stats["rt"] = eng.c.round_trips - rt0
        else:
            cl = get(i)
            rt0 = cl.round_trips
            rc, ip, cas = BL.allocate(cl, cmd, cid)
            ips = [ip] if ip else []
            r = X.Exec(rc, b"", b"", time.monotonic() - t)
            r.stats = {"rt": cl.round_trips - rt0, "cas": cas}
        r.out = {"ips": [{"address": a} for a in ips]} if rc == 0 and cmd == "ADD" else None
        return r

    return (lambda i, j: call("ADD", i, j)), (lambda i, j: call("DEL", i, j))


def fill_shape(eps: list[str], lock_dir: str) -> list[dict[str, Any]]:
    """ADD cost against pool fill and size, in-process: 4 nodes fill a v4 /22 (16 blocks of /26) to
    about 10 % and then 95 %, and node0 runs 30 more ADDs at each level; then 30 ADDs on a v6 /64."""
    out: list[dict[str, Any]] = []
    for label, rng, levels in (("IPv4 /22", "10.102.0.0/22", (0.10, 0.95)), ("IPv6 /64", "fd02::/64", (0.0,))):
        conf = X.conf(eps, lock_dir, name=f"fill{len(out)}", range=rng)
        engines: list[tuple[Engine, dict[str, str]]] = []
        for i in range(4):
            cfg = C.load(conf, {"NODENAME": f"node{i}"})
            engines.append((Engine(cfg, Client(cfg.endpoints, i % len(eps), cfg.attempt, cfg.budget)), {}))
        usable = 1022 if rng.endswith("/22") else 0
        held: list[tuple[int, str]] = []
        for level in levels:
            while len(held) < int(level * usable) - 30 * len([x for x in out if x["pool"] == label]):
                i = len(held) % 4
                eng, hints = engines[i]
                cid = f"f{len(held)}"
                eng.add(cid, "eth0", {}, hints)
                held.append((i, cid))
            eng, hints = engines[0]
            lat, rts = [], []
            for j in range(30):
                cid = f"m{level}-{j}"
                rt0, t = eng.c.round_trips, time.monotonic()
                eng.add(cid, "eth0", {}, hints)
                lat.append(time.monotonic() - t)
                rts.append(eng.c.round_trips - rt0)
                held.append((0, cid))
            out.append({"pool": label, "fill": len(held) / usable if usable else 0.0, "p50": pct(lat, 50) * 1000,
                        "max": max(lat) * 1000, "rt": sum(rts) / len(rts), "rt_max": max(rts),
                        "borrows": engines[0][0].stats["borrows"]})
            print(f"fill {label} {out[-1]['fill']:.0%}: p50 {out[-1]['p50']:.1f} ms, rt/ADD {out[-1]['rt']:.2f} "
                  f"(max {out[-1]['rt_max']})", flush=True)
        for i, cid in held:
            engines[i][0].release(cid, "eth0")
        for eng, _ in engines:
            eng.c.close()
    return out


def phase(n: int, per_node: int, call: Any) -> tuple[list[X.Exec], float]:
    """n node threads, each `per_node` calls in a row; returns the execs and the wall time."""
    out: list[list[X.Exec]] = [[] for _ in range(n)]

    def node(i: int) -> None:
        out[i] = [call(i, j) for j in range(per_node)]

    threads = [threading.Thread(target=node, args=(i,)) for i in range(n)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [r for rs in out for r in rs], time.monotonic() - t


def etcd_cpu(cluster: etcd_cluster.Cluster) -> float:
    """CPU seconds (user + system) used so far by the cluster's live members."""
    total = 0.0
    for p in cluster.procs.values():
        if p is None:
            continue
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def fsync_p99(cluster: etcd_cluster.Cluster) -> str:
    """etcd_disk_wal_fsync_duration_seconds p99 (bucket bound) on member 0, from /metrics."""
    import urllib.request

    try:
        with urllib.request.urlopen(cluster.endpoints[0] + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError as exc:
        return f"n/a ({exc})"
    buckets = []
    total = 0.0
    for line in text.splitlines():
        if line.startswith("etcd_disk_wal_fsync_duration_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
        elif line.startswith("etcd_disk_wal_fsync_duration_seconds_count"):
            total = float(line.rsplit(" ", 1)[1])
    for le, cnt in buckets:
        if total and cnt >= 0.99 * total:
            return f"≤ {le * 1000:g} ms ({int(total)} fsyncs)"
    return "n/a"


def bench(nodes: list[int], adds: list[int]) -> dict[str, Any]:
    work = tempfile.mkdtemp(prefix="pycni-bench-ci-")
    rows = []
    try:
        os.makedirs(os.path.join(work, "bin"))
        exe = X.install(os.path.join(work, "bin"))
        with etcd_cluster.Cluster() as cluster:
            eps = cluster.endpoints
            for mode, n, total in [("exec", n, t) for n, t in zip(nodes, adds)] + \
                    [("in-process", n, t) for n, t in zip(nodes, adds)]:
                m = max(1, total // n)
                for impl in ("cluster-ipam", "baseline"):
                    tag = f"{impl[:2]}{mode[:2]}{n}"
                    net = f"bench{mode[:2]}{n}"
                    if mode == "in-process":
                        add, delete = inproc_calls(impl, eps, os.path.join(work, "locks"), net, tag)
                    elif impl == "cluster-ipam":
                        c = X.conf(eps, os.path.join(work, "locks"), name=net, range="10.100.0.0/16")

                        def add(i: int, j: int, c: dict[str, Any] = c, tag: str = tag) -> X.Exec:
                            return X.run(exe, "ADD", c, f"{tag}n{i}c{j}", f"node{i}")

                        def delete(i: int, j: int, c: dict[str, Any] = c, tag: str = tag) -> X.Exec:
                            return X.run(exe, "DEL", c, f"{tag}n{i}c{j}", f"node{i}")
                    else:
                        def add(i: int, j: int, tag: str = tag) -> X.Exec:
                            return run_baseline(eps, "ADD", f"{tag}n{i}c{j}")

                        def delete(i: int, j: int, tag: str = tag) -> X.Exec:
                            return run_baseline(eps, "DEL", f"{tag}n{i}c{j}")
                    e0 = etcd_cpu(cluster)
                    a, a_wall = phase(n, m, add)
                    e_cpu = (etcd_cpu(cluster) - e0) / max(1, len(a)) * 1000
                    kv_after_add = cluster.prefix_kvs(f"{X.PREFIX}/{net}/") if impl == "cluster-ipam" else {}
                    d, d_wall = phase(n, m, delete)
                    addrs = [r.addresses[0] for r in a if r.rc == 0]
                    if impl == "cluster-ipam":
                        problems = X.check_invariants(kv_after_add, net)
                        left = [k for k in cluster.prefix_kvs(f"{X.PREFIX}/{net}/")
                                if "/ips/" in k or "/handles/" in k or "/bynode/" in k]
                    else:
                        problems = []
                        left = [x for x in cluster.prefix_kvs("/bench/whereabouts/").values() if x.strip()]
                    lat = [r.seconds for r in a]
                    row: dict[str, Any] = {
                        "mode": mode, "n": n, "impl": impl, "adds": len(a), "ok": sum(r.rc == 0 for r in a),
                        "del_fail": sum(r.rc != 0 for r in d),
                        "rate": len(a) / a_wall, "del_rate": len(d) / d_wall,
                        "p50": pct(lat, 50) * 1000, "p99": pct(lat, 99) * 1000, "max": max(lat) * 1000,
                        "rt": sum(r.stats.get("rt", 0) for r in a) / len(a), "etcd_cpu": e_cpu,
                        "claims": sum(r.stats.get("claims", 0) for r in a),
                        "borrows": sum(r.stats.get("borrows", 0) for r in a),
                        "conflicts": sum(r.stats.get("conflicts", r.stats.get("cas", 0)) for r in a),
                        "dups": len(addrs) - len(set(addrs)) + sum("duplicate" in p for p in problems),
                        "problems": len(problems), "leaked": len(left),
                    }
                    rows.append(row)
                    print(f"{mode:<10} N={n:>2} {impl:<12} {row['rate']:6.1f} ADD/s  p50 {row['p50']:6.0f} ms  p99 "
                          f"{row['p99']:6.0f} ms  max {row['max']:6.0f} ms  rt/ADD {row['rt']:.2f}  etcd CPU/ADD "
                          f"{row['etcd_cpu']:.1f} ms  "
                          f"conflicts {row['conflicts']}  claims {row['claims']}  borrows {row['borrows']}  "
                          f"dups {row['dups']}  leaked {row['leaked']}  failed {row['adds'] - row['ok']}",
                          flush=True)
            fill = fill_shape(eps, os.path.join(work, "locks"))
            fsync = fsync_p99(cluster)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "fsync": fsync, "fill": fill}


def report(res: dict[str, Any], started: str, load: tuple[float, float], wall: float) -> str:
    rows = res["rows"]
    fs = subprocess.run(["stat", "-f", "-c", "%T", tempfile.gettempdir()], capture_output=True, text=True,
                        check=False).stdout.strip()
    out = [
        "# cluster-ipam vs a whereabouts-style single-key CAS baseline",
        "",
        (f"{started}; {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}, Python "
         f"{platform.python_version()}; etcd {etcd_version()} as 3 members on 127.0.0.1, data dirs on {fs} "
         f"({tempfile.gettempdir()}); WAL fsync p99 {res['fsync']}. Load average {load[0]:.1f} at start, "
         f"{load[1]:.1f} at end (the machine is shared); the whole run took {wall:.0f} s."),
        "",
        ("N simulated nodes, each a thread exec'ing the installed plugin (`pycni install-plugins`) once per call, "
         "one call after another, with its own `NODENAME`; M ADDs per node, then every DEL. The baseline "
         "(`bench/cluster_ipam_baseline.py`) is exec'd the same way with the same interpreter and gateway client: "
         "one key holds the whole /16, ADD walks to the lowest free address and writes the key back with "
         "compare-and-swap on its mod revision, retrying at once on a lost CAS (the reference lab's baseline; "
         "`BASE_BACKOFF_MS=20` adds a random pause), the pool stored as whereabouts' etcd backend stored it. "
         "In-process rows run the same code in threads of the benchmark (one keep-alive client per node, no "
         "interpreter start): what the etcd side sustains when every node has its own CPU, as real nodes do. "
         "Latency is per exec (spawn to exit) or per call (in-process). Round trips = HTTP requests to etcd per "
         "ADD. etcd CPU = CPU time of the 3 members during the ADD phase divided by the ADDs: the work one ADD "
         "costs the shared cluster (it includes the members' idle work such as heartbeats, so it reads high at "
         "low rates). Reproduce: `python3 bench/cluster_ipam.py`."),
        "",
        ("Reading the table: in the exec rows all N simulated nodes share this machine's 2 CPUs, so both "
         "implementations are capped by interpreter starts (12-20 ms of CPU per exec, for either) long before "
         "etcd is; the baseline's lost CAS rounds are retried inside the same process and cost etcd work, not "
         "execs. The in-process rows remove that shared cost and show the designs themselves: the baseline's "
         "conflicts grow with N and every ADD rewrites the whole pool, while cluster-ipam stays at about 2 round "
         "trips and no conflicts."),
        "",
        ("| mode | N nodes | implementation | ADDs | ADD/s | DEL/s | p50 ms | p99 ms | max ms | round trips/ADD | "
         "etcd CPU ms/ADD | conflicts | block claims | borrows | failed | duplicates | leaked keys after DEL |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(f"| {r['mode']} | {r['n']} | {r['impl']} | {r['adds']} | {r['rate']:.1f} | {r['del_rate']:.1f} | "
                   f"{r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f} | {r['rt']:.2f} | {r['etcd_cpu']:.1f} | "
                   f"{r['conflicts']} | "
                   f"{r['claims'] if r['impl'] == 'cluster-ipam' else '-'} | "
                   f"{r['borrows'] if r['impl'] == 'cluster-ipam' else '-'} | {r['adds'] - r['ok'] + r['del_fail']} | "
                   f"{r['dups']} | {r['leaked']} |")
    out.append("")
    by = {(r["mode"], r["n"], r["impl"]): r for r in rows}
    for mode in ("exec", "in-process"):
        for n in sorted({r["n"] for r in rows}):
            ci, base = by.get((mode, n, "cluster-ipam")), by.get((mode, n, "baseline"))
            if ci and base:
                out.append(f"- {mode}, N={n}: cluster-ipam {ci['rate'] / base['rate']:.1f}× the baseline's ADD "
                           f"throughput; p99 {ci['p99']:.0f} ms vs {base['p99']:.0f} ms; CAS conflicts "
                           f"{ci['conflicts']} vs {base['conflicts']}; etcd CPU per ADD {ci['etcd_cpu']:.1f} ms vs "
                           f"{base['etcd_cpu']:.1f} ms.")
        g32, g8 = by.get((mode, 32, "cluster-ipam")), by.get((mode, 8, "cluster-ipam"))
        b32 = by.get((mode, 32, "baseline"))
        if g32 and b32:
            ratio = g32["rate"] / b32["rate"]
            out.append(f"- Goal ({mode}) at 32 nodes, ≥ 5× the baseline's throughput: {ratio:.1f}×, "
                       f"{'met' if ratio >= 5 else 'not met'}.")
        if g8:
            out.append(f"- Goal ({mode}) at 8 nodes, p99 < 1 s: {g8['p99']:.0f} ms, "
                       f"{'met' if g8['p99'] < 1000 else 'not met'}.")
    out.append(f"- Invariants (cluster-ipam: full scan of the network's keys after the ADDs): duplicates "
               f"{sum(r['dups'] for r in rows)}, other key-space problems {sum(r['problems'] for r in rows)}, "
               f"keys left after all DELs {sum(r['leaked'] for r in rows)}.")
    out += ["", ("Cost against pool fill and size (in-process, 4 nodes filling, node0 measured over 30 ADDs; "
                 "round trips per ADD, the claims and scans included):"), "",
            "| pool | fill after | p50 ms | max ms | round trips/ADD | max round trips | node0 borrows so far |",
            "|---|---|---|---|---|---|---|"]
    for f in res.get("fill", []):
        fill = f"{f['fill']:.0%}" if f["fill"] else "~0 % (2^64 addresses)"
        out.append(f"| {f['pool']} | {fill} | {f['p50']:.1f} | {f['max']:.1f} | {f['rt']:.2f} | {f['rt_max']} | "
                   f"{f['borrows']} |")
    out.append("")
    return "\n".join(out)


def etcd_version() -> str:
    p = subprocess.run([etcd_cluster.ETCD, "--version"], capture_output=True, text=True, check=False)
    return p.stdout.splitlines()[0].split()[-1] if p.stdout else "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default="1,8,32")
    ap.add_argument("--adds", default="60,240,256", help="total ADDs per N (split over the nodes)")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS-cluster-ipam.md"))
    a = ap.parse_args()
    nodes = [int(x) for x in a.nodes.split(",")]
    adds = [int(x) for x in a.adds.split(",")]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = os.getloadavg()[0]
    t = time.monotonic()
    res = bench(nodes, adds)
    text = report(res, started, (load0, os.getloadavg()[0]), time.monotonic() - t)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
