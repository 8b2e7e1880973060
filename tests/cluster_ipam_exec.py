"""Exec'ing the installed cluster-ipam plugin as simulated nodes (one NODENAME per node), for the
cluster tests and bench/cluster_ipam.py. Also the invariant checks over the etcd key space.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PREFIX = "/pycni/v1"


def install(directory: str) -> str:
    """`pycni install-plugins DIR --only cluster-ipam`; returns the executable's path."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "pycni.cli.main", "install-plugins", directory, "--only", "cluster-ipam"],
                   check=True, capture_output=True, env=env)
    assert os.path.exists(os.path.join(directory, "cluster-ipam"))
    return os.path.join(directory, "cluster-ipam")


def conf(endpoints: list[str], lock_dir: str, name: str = "net1", **ipam: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"type": "cluster-ipam", "etcd_endpoints": endpoints, "lock_dir": lock_dir}
    base.update(ipam)
    return {"cniVersion": "1.1.0", "name": name, "ipam": base}


def env(cmd: str, cid: str, node: str, ifname: str = "eth0", stats: bool = True) -> dict[str, str]:
    e = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": ifname,
         "CNI_PATH": "/opt/cni/bin", "NODENAME": node, "PATH": os.environ.get("PATH", "")}
    if stats:
        e["PYCNI_CLUSTER_IPAM_STATS"] = "1"
    return e


class Exec:
    """One plugin exec's outcome."""

    def __init__(self, rc: int, out: bytes, err: bytes, seconds: float) -> None:
        self.rc = rc
        self.out = json.loads(out) if out.strip() else None
        self.err = err.decode(errors="replace")
        self.seconds = seconds
        self.stats: dict[str, int] = {}
        for line in self.err.splitlines():
            if line.startswith("cluster-ipam stats:"):
                for part in line.split()[2:]:
                    k, _, v = part.partition("=")
                    if v.isdigit():
                        self.stats[k] = int(v)

    @property
    def code(self) -> int | None:
        return self.out.get("code") if self.rc and isinstance(self.out, dict) else None

    @property
    def addresses(self) -> list[str]:
        return [i["address"] for i in (self.out or {}).get("ips", [])]

    def __repr__(self) -> str:
        return f"Exec(rc={self.rc}, out={self.out}, {self.seconds:.2f}s)"


def run(exe: str, cmd: str, c: dict[str, Any], cid: str, node: str, ifname: str = "eth0",
        timeout: float = 60) -> Exec:
    t = time.monotonic()
    p = subprocess.run([exe], check=False, input=json.dumps(c).encode(), env=env(cmd, cid, node, ifname),
                       capture_output=True,
                       timeout=timeout)
    return Exec(p.returncode, p.stdout, p.stderr, time.monotonic() - t)


def run_many(exe: str, calls: list[tuple[str, dict[str, Any], str, str]], timeout: float = 120) -> list[Exec]:
    """Every (cmd, conf, cid, node) at once, one thread per exec (so each latency is its own)."""
    with ThreadPoolExecutor(max_workers=len(calls) or 1) as pool:
        futs = [pool.submit(run, exe, cmd, c, cid, node, "eth0", timeout) for cmd, c, cid, node in calls]
        return [f.result() for f in futs]


def node_loop(exe: str, cmd: str, c: dict[str, Any], cids: list[str], node: str, retries: int = 0) -> list[Exec]:
    """A simulated node: its calls one after another (what a kubelet does with one sandbox at a time),
    retrying code 11 up to `retries` times as a runtime would."""
    out = []
    for cid in cids:
        for attempt in range(retries + 1):
            r = run(exe, cmd, c, cid, node)
            r.stats["retries"] = attempt
            if r.code != 11:
                break
        out.append(r)
    return out


def check_invariants(kvs: dict[str, str], network: str = "net1", prefix: str = PREFIX) -> list[str]:
    """Problems in the key space of one network: an address in two handles, handles without
    their address keys, address keys without a handle, bynode entries without a handle."""
    n = f"{prefix}/{network}/"
    ips = {k[len(n) + 4:]: json.loads(v) for k, v in kvs.items() if k.startswith(n + "ips/")}
    handles = {k[len(n) + 8:]: json.loads(v) for k, v in kvs.items() if k.startswith(n + "handles/")}
    bynode = [k[len(n) + 7:] for k in kvs if k.startswith(n + "bynode/")]
    problems = []
    owner: dict[str, str] = {}
    for h, rec in handles.items():
        for e in rec["ips"]:
            if e["ref"] in owner:
                problems.append(f"duplicate {e['address']}: {owner[e['ref']]} and {h}")
            owner[e["ref"]] = h
            if e["ref"] not in ips:
                problems.append(f"handle {h} without its address key {e['ref']}")
    for ref, rec in ips.items():
        if ref not in owner:
            problems.append(f"address key {ref} without a handle")
        elif owner[ref] != f"{rec['cid']}/{rec['ifname']}":
            problems.append(f"address key {ref} names {rec['cid']}, handle is {owner[ref]}")
    for b in bynode:
        _node, cid, ifname = b.split("/")
        if f"{cid}/{ifname}" not in handles:
            problems.append(f"bynode {b} without a handle")
    return problems
