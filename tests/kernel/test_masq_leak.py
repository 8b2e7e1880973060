"""ptp and bridge remove their masquerade rules however DEL finds the container (issue 13 item 1).

Upstream leaks the `CNI-<hash>` chain (or the nftables rule) when DEL runs with the namespace gone, with an
empty CNI_NETNS, without prevResult (bridge), or again after a DEL killed between the veth removal and the
rule removal. pycni finds the rules by the network name and container ID alone. Both backends, both plugins.
Oracle: iptables-save / nft -j (through test_netfilter_atomic._state).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest
from harness_common import iptables_save
from test_netfilter_atomic import _state

TRIALS = 30
V4, V6 = "10.78.0.2/24", "fd78::2/64"


def _conf(plugin: str, backend: str, prev: bool = True) -> dict:
    conf: dict = {"cniVersion": "1.0.0", "name": "leak", "type": plugin, "ipMasq": True, "ipMasqBackend": backend,
                  "ipam": {"type": "static", "addresses": [{"address": V4, "gateway": "10.78.0.1"},
                                                           {"address": V6, "gateway": "fd78::1"}]}}
    if plugin == "ptp":
        conf["dad"] = "skip"
    else:
        conf.update(bridge="leakbr0", isGateway=True)
    return conf


def _env(command: str, cont: str, cid: str, pdir: str) -> dict[str, str]:
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": f"/run/netns/{cont}" if cont else "",
            "CNI_IFNAME": "eth0", "CNI_PATH": pdir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def _spawn(host: str, pdir: str, command: str, conf: dict, cont: str, cid: str) -> subprocess.Popen:
    p = subprocess.Popen(["ip", "netns", "exec", host, f"{pdir}/{conf['type']}"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(command, cont, cid, pdir),
                         start_new_session=True)
    assert p.stdin is not None
    p.stdin.write(json.dumps(conf).encode())
    p.stdin.close()
    p.stdin = None  # written: communicate() must not touch it again
    return p


def _run(host: str, pdir: str, command: str, conf: dict, cont: str, cid: str = "leak1") -> dict | None:
    p = _spawn(host, pdir, command, conf, cont, cid)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, f"{command}: {out.decode()} {err.decode()}"
    return json.loads(out) if out.strip() else None


def _with_prev(conf: dict, result: dict | None) -> dict:
    return dict(conf, prevResult=result) if result is not None else conf


def _has_masq(host: str, cid: str = "leak1") -> bool:
    texts = [iptables_save(host, "nat", v6) for v6 in (False, True)]
    nft = subprocess.run(["ip", "netns", "exec", host, "nft", "-j", "list", "ruleset"], capture_output=True,
                         text=True, check=True).stdout
    return any(f'id: \\"{cid}\\"' in t for t in texts) or f"id: {cid}" in nft


@pytest.fixture
def tools() -> None:
    for tool in ("iptables-save", "ip6tables-save", "iptables-restore", "nft"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


PAIRS = [(p, b) for p in ("ptp", "bridge") for b in ("iptables", "nftables")]
IDS = [f"{p}-{b}" for p, b in PAIRS]


@pytest.mark.parametrize(("plugin", "backend"), PAIRS, ids=IDS)
@pytest.mark.parametrize("how", ["netns-deleted", "netns-deleted-no-prev", "empty-netns", "link-gone"])
def test_del_removes_masquerade_without_the_namespace(tools, netns_factory, pycni_dir, plugin, backend, how):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    conf = _conf(plugin, backend)
    clean = _state(host)
    res = _run(host, pycni_dir, "ADD", conf, cont)
    assert _has_masq(host)
    del_conf = conf if how == "netns-deleted-no-prev" else _with_prev(conf, res)
    if how.startswith("netns-deleted"):
        subprocess.run(["ip", "netns", "del", cont], check=True)
        _run(host, pycni_dir, "DEL", del_conf, cont)
    elif how == "empty-netns":
        _run(host, pycni_dir, "DEL", del_conf, "")
    else:  # the container's link is gone already (as after a DEL killed right after removing it)
        subprocess.run(["ip", "-n", cont, "link", "del", "eth0"], check=True)
        _run(host, pycni_dir, "DEL", del_conf, cont)
    assert not _has_masq(host), f"{plugin}/{backend}/{how}: masquerade rules left behind"
    if backend == "iptables":
        st = _state(host)
        # iptables-save's view (iptables-nft may leave its empty base tables behind in nft's)
        assert (st["ip"][:2], st["ip6"][:2]) == (clean["ip"][:2], clean["ip6"][:2])


@pytest.mark.parametrize(("plugin", "backend"), PAIRS, ids=IDS)
def test_del_killed_at_random_points_then_retried_leaves_nothing(tools, netns_factory, pycni_dir, plugin, backend):
    conf = _conf(plugin, backend)
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    res = _run(host, pycni_dir, "ADD", conf, cont)
    t0 = time.perf_counter()
    _run(host, pycni_dir, "DEL", _with_prev(conf, res), cont)
    took = time.perf_counter() - t0
    rng = random.Random(f"{plugin}-{backend}")
    killed = leftovers = 0
    for trial in range(TRIALS):
        host, cont = netns_factory.new(f"h{trial}"), netns_factory.new(f"c{trial}")
        res = _run(host, pycni_dir, "ADD", conf, cont)
        p = _spawn(host, pycni_dir, "DEL", _with_prev(conf, res), cont, "leak1")
        time.sleep(rng.uniform(0.0, took * 1.1))
        killed += p.poll() is None
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate(timeout=60)
        _run(host, pycni_dir, "DEL", _with_prev(conf, res), cont)  # the runtime's retry
        leftovers += _has_masq(host)
        netns_factory.cleanup()
    print(f"{plugin}/{backend}: {killed}/{TRIALS} DELs killed mid-way, {leftovers} left masquerade rules")
    assert leftovers == 0


@pytest.mark.parametrize(("plugin", "backend"), PAIRS, ids=IDS)
def test_gc_removes_masquerade_of_attachments_not_valid(tools, netns_factory, pycni_dir, plugin, backend):
    host = netns_factory.new("h")
    conts = [netns_factory.new(f"c{i}") for i in range(3)]
    conf = _conf(plugin, backend)
    for i, c in enumerate(conts):
        addrs = [{"address": f"10.78.0.{10 + i}/24", "gateway": "10.78.0.1"},
                 {"address": f"fd78::{10 + i:x}/64", "gateway": "fd78::1"}]
        _run(host, pycni_dir, "ADD", dict(conf, ipam=dict(conf["ipam"], addresses=addrs)), c, cid=f"gc{i}")
    assert all(_has_masq(host, f"gc{i}") for i in range(3))
    gc = dict(conf, cniVersion="1.1.0", **{"cni.dev/valid-attachments": [{"containerID": "gc1", "ifname": "eth0"}]})
    _run(host, pycni_dir, "GC", gc, "", cid="")
    assert [_has_masq(host, f"gc{i}") for i in range(3)] == [False, True, False]
