"""A SIGKILL at any moment of an ipMasq / portmap / firewall ADD leaves none or all of that ADD's rules.

Each plugin applies its rules in one iptables-restore (per family) or one nft script, so a killed ADD
(the whole process group, helper programs included) leaves the table as it was before, or as after a
complete ADD; a DEL afterwards leaves what a DEL after a complete ADD leaves. Every trial starts from
an empty ruleset in a fresh host namespace of its own. Oracle: iptables-save / nft -j, never pycni's reader.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from harness_common import iptables_save, nsout

TRIALS = 24
V4, V6 = "10.77.0.2/24", "fd77::2/64"


def _prev(ifname: str = "eth0") -> dict:
    return {"cniVersion": "1.0.0",
            "interfaces": [{"name": "br77"}, {"name": "veth77"}, {"name": ifname, "sandbox": "/run/netns/x"}],
            "ips": [{"address": V4, "gateway": "10.77.0.1", "interface": 2},
                    {"address": V6, "gateway": "fd77::1", "interface": 2}]}


def _ptp_conf(backend: str) -> dict:
    return {"cniVersion": "1.0.0", "name": "atomic", "type": "ptp", "ipMasq": True, "ipMasqBackend": backend,
            "dad": "skip",
            "ipam": {"type": "static", "addresses": [{"address": V4, "gateway": "10.77.0.1"},
                                                     {"address": V6, "gateway": "fd77::1"}]}}


def _portmap_conf(backend: str) -> dict:
    maps = [{"hostPort": 8080 + i, "containerPort": 80 + i, "protocol": p} for i in range(3) for p in ("tcp", "udp")]
    return {"cniVersion": "1.0.0", "name": "atomic", "type": "portmap", "backend": backend,
            "runtimeConfig": {"portMappings": maps}, "prevResult": _prev()}


def _firewall_conf(policy: str) -> dict:
    return {"cniVersion": "1.0.0", "name": "atomic", "type": "firewall", "backend": "iptables",
            "ingressPolicy": policy, "prevResult": _prev()}


def _state(ns: str) -> dict[str, tuple[str, ...]]:
    """Per family, every netfilter table the plugins touch, as the tools print them (nft without handles)."""
    out: dict[str, list[str]] = {"ip": [], "ip6": [], "inet": [], "bridge": []}
    for fam, v6 in (("ip", False), ("ip6", True)):
        for table in ("nat", "filter"):
            out[fam].append(iptables_save(ns, table, v6))
    for item in json.loads(nsout(ns, "nft", "-j", "list", "ruleset"))["nftables"]:
        if "metainfo" not in item:
            body = next(iter(item.values()))
            out.setdefault(body.get("family", "?"), []).append(json.dumps(_strip_handles(item), sort_keys=True))
    return {k: tuple(v) for k, v in out.items()}


def _each_family_in(st: dict, *allowed: dict) -> bool:
    """iptables has no transaction across families (nor does portmap's nft, one table per family): each
    family on its own must be one of the allowed states."""
    return all(any(st.get(f) == a.get(f) for a in allowed) for f in set(st) | {f for a in allowed for f in a})


def _strip_handles(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _strip_handles(v) for k, v in obj.items() if k != "handle"}
    if isinstance(obj, list):
        return [_strip_handles(v) for v in obj]
    return obj


def _spawn(host: str, exe: str, command: str, conf: dict, cont: str, cid: str = "atomic1") -> subprocess.Popen:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": f"/run/netns/{cont}",
           "CNI_IFNAME": "eth0", "CNI_PATH": os.path.dirname(exe), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    p = subprocess.Popen(["ip", "netns", "exec", host, exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, start_new_session=True)
    assert p.stdin is not None
    p.stdin.write(json.dumps(conf).encode())
    p.stdin.close()
    p.stdin = None  # written: communicate() must not touch it again
    return p


def _finish(p: subprocess.Popen) -> tuple[int, bytes]:
    out, err = p.communicate(timeout=60)
    return p.returncode, out + err


def _run(host: str, exe: str, command: str, conf: dict, cont: str) -> None:
    rc, out = _finish(_spawn(host, exe, command, conf, cont))
    assert rc == 0, f"{command}: {out.decode()}"


def _kill_group_after(p: subprocess.Popen, delay: float) -> bool:
    """SIGKILL the plugin and everything it spawned after `delay`; True when it was still running."""
    time.sleep(delay)
    alive = p.poll() is None
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _finish(p)
    return alive


CASES = [
    ("ptp", "iptables", _ptp_conf), ("ptp", "nftables", _ptp_conf),
    ("portmap", "iptables", _portmap_conf), ("portmap", "nftables", _portmap_conf),
    ("firewall", "open", _firewall_conf), ("firewall", "isolated", _firewall_conf),
]


@pytest.mark.parametrize(("plugin", "variant", "make"), CASES, ids=[f"{p}-{v}" for p, v, _ in CASES])
def test_killed_add_leaves_none_or_all(netns_factory, pycni_dir, plugin, variant, make):
    for tool in ("iptables-save", "ip6tables-save", "iptables-restore", "nft"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    exe = f"{pycni_dir}/{plugin}"
    conf = make(variant)
    # the two acceptable outcomes, from an ADD that was not interrupted
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    empty = _state(host)
    t0 = time.perf_counter()
    _run(host, exe, "ADD", conf, cont)
    took = time.perf_counter() - t0
    full = _state(host)
    _run(host, exe, "DEL", conf, cont)
    after_del = _state(host)
    assert full != empty
    rng = random.Random(f"{plugin}-{variant}")
    seen = {"none": 0, "all": 0, "per-family": 0, "finished": 0}
    for trial in range(TRIALS):
        host, cont = netns_factory.new(f"h{trial}"), netns_factory.new(f"c{trial}")
        lo = 0.0 if trial % 2 else took * 0.5  # every other kill lands in the later half, where rules are made
        alive = _kill_group_after(_spawn(host, exe, "ADD", conf, cont), rng.uniform(lo, took * 1.1))
        st = _state(host)
        assert _each_family_in(st, empty, full), f"trial {trial}: a killed ADD left a partial rule set"
        seen["none" if st == empty else "finished" if not alive else "all" if st == full else "per-family"] += 1
        _run(host, exe, "DEL", conf, cont)
        assert _each_family_in(_state(host), empty, after_del), f"trial {trial}: DEL after a killed ADD left rules"
        _run(host, exe, "DEL", conf, cont)  # idempotent
        netns_factory.cleanup()
    print(f"{plugin}/{variant}: {seen} over {TRIALS} kills, ADD takes {took * 1000:.0f} ms")
    assert sum(seen.values()) == TRIALS


@pytest.mark.parametrize("plugin", ["portmap", "firewall", "ptp"])
def test_parallel_adds_share_chains_without_duplicates(netns_factory, pycni_dir, plugin):
    """Concurrent ADDs that all find the shared chains missing: one transaction creates them, the others
    fail on `-N`, read the table again and add only their own rules, so no rule appears twice."""
    for tool in ("iptables-save", "iptables-restore"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    n = 8
    host = netns_factory.new("h")
    procs = []
    for i in range(n):
        v4 = {"address": f"10.77.{i}.2/24", "gateway": f"10.77.{i}.1"}
        if plugin == "ptp":
            conf = dict(_ptp_conf("iptables"), ipam={"type": "static", "addresses": [v4]})
        else:
            conf = _portmap_conf("iptables") if plugin == "portmap" else _firewall_conf("same-bridge")
            conf["prevResult"] = dict(conf["prevResult"], ips=[dict(v4, interface=2)])
        procs.append(_spawn(host, f"{pycni_dir}/{plugin}", "ADD", conf, netns_factory.new(f"c{i}"), cid=f"par{i}"))
    for p in procs:
        rc, out = _finish(p)
        assert rc == 0, out.decode()
    save = iptables_save(host, "filter" if plugin == "firewall" else "nat")
    rules = [ln for ln in save.splitlines() if ln.startswith("-A ")]
    assert len(rules) == len(set(rules)), f"a rule was added twice:\n{save}"
    own = {"portmap": ":CNI-DN-", "ptp": ":CNI-", "firewall": None}[plugin]
    if own is not None:
        assert sum(ln.startswith(own) for ln in save.splitlines()) == n, save
    else:
        assert sum("-j ACCEPT" in ln and ln.startswith("-A CNI-FORWARD -s 10.77.") for ln in rules) == n, save


def test_nft_table_exists_asks_the_kernel(netns_factory):
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed")
    ns = netns_factory.new("t")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pycni.linux import netfilter as nf; "
            "print(nf.nft_table_exists('inet', 'pycni_probe'), nf.nft_table_exists('ip', 'pycni_probe'))")
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")

    def ask() -> str:
        return nsout(ns, sys.executable, "-I", "-S", "-c", code, src).strip()

    assert ask() == "False False"
    nsout(ns, "nft", "add", "table", "inet", "pycni_probe")
    assert ask() == "True False"
