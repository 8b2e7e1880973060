"""vrf through the executables. This needs CONFIG_NET_VRF; on kernels without it (this machine:
`# CONFIG_NET_VRF is not set`, `ip link add ... type vrf` -> "Unknown device type") only the failure is
compared with the reference binary's and the rest is skipped with that reason. The message building and the
config handling are covered by tests/unit/test_vrf_unit.py.
"""

from __future__ import annotations

import functools
import subprocess

import pytest
from harness_common import REF_DIR, NetnsFactory, assert_same, ipj, need_reference, normalize, sh
from harness_meta import NET, World, routing_state


@functools.lru_cache(maxsize=1)
def vrf_support() -> str | None:
    """None when the kernel can create a VRF device, else the reason it cannot."""
    import os

    name = f"pycni-t-{os.urandom(3).hex()}-vrfprobe"
    try:
        sh("ip", "netns", "add", name)
    except AssertionError as exc:
        return f"cannot create a netns to probe VRF support: {exc}"
    try:
        p = subprocess.run(["ip", "-n", name, "link", "add", "probe", "type", "vrf", "table", "10"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return f"kernel without VRF support (CONFIG_NET_VRF): ip link add type vrf: {p.stderr.strip()}"
        return None
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def need_vrf() -> None:
    reason = vrf_support()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def world(netns_factory: NetnsFactory, pycni_dir: str) -> World:
    return World(netns_factory, "v", pycni_dir, pycni_dir)


def vrf_conf(**kw: object) -> dict:
    c: dict = {"cniVersion": "1.0.0", "name": NET, "type": "vrf", "vrfname": "blue"}
    c.update(kw)
    return c


def manual_attach(w: World, n: int, ifname: str = "eth0") -> dict:
    """A veth by hand (ip): 10.n.0.2/24 and fd00:n::2/64 in the container, .1 on the host end, a default route
    and 198.51.100.0/24 via 10.n.0.1; returns the matching prevResult. (ptp's on-link gateway route would make
    upstream's VRF move fail: it only carries universe-scope routes.)"""
    cont = w.container()
    host_if = f"vh{n}{ifname}"[:15]
    sh("ip", "-n", w.host, "link", "add", host_if, "type", "veth", "peer", "name", ifname, "netns", cont)
    sh("ip", "-n", w.host, "addr", "add", f"10.{n}.0.1/24", "dev", host_if)
    sh("ip", "-n", w.host, "link", "set", host_if, "up")
    sh("ip", "-n", cont, "addr", "add", f"10.{n}.0.2/24", "dev", ifname)
    sh("ip", "-n", cont, "addr", "add", f"fd00:{n}::2/64", "dev", ifname, "nodad")
    sh("ip", "-n", cont, "link", "set", ifname, "up")
    sh("ip", "-n", cont, "route", "add", "default", "via", f"10.{n}.0.1", "dev", ifname)
    sh("ip", "-n", cont, "route", "add", "198.51.100.0/24", "via", f"10.{n}.0.1", "dev", ifname)
    return {"cniVersion": "1.0.0",
            "interfaces": [{"name": host_if}, {"name": ifname, "sandbox": w.path()}],
            "ips": [{"interface": 1, "address": f"10.{n}.0.2/24", "gateway": f"10.{n}.0.1"},
                    {"interface": 1, "address": f"fd00:{n}::2/64"}],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": f"10.{n}.0.1"}]}


def link(ns: str, name: str) -> dict | None:
    found = [lk for lk in ipj(ns, "-d", "link", "show") if lk["ifname"] == name]
    return found[0] if found else None


def test_without_vrf_support_add_fails_like_the_reference(netns_factory: NetnsFactory, pycni_dir: str) -> None:
    if vrf_support() is None:
        pytest.skip("this kernel supports VRF devices; the failure case cannot be produced")
    need_reference("vrf")
    msgs = {}
    for tag, bindir in (("vp", pycni_dir), ("vr", REF_DIR)):
        w = World(netns_factory, tag, bindir, pycni_dir)
        prev = w.attach(71)
        out = w.meta("vrf", "ADD", vrf_conf(), prev)
        assert not out.ok
        msgs[tag] = (out.json or {}).get("code"), out.msg
        # nothing is left behind, and DEL succeeds
        assert link(w.container(), "blue") is None
        assert w.meta("vrf", "DEL", vrf_conf(), prev).ok
    assert msgs["vp"] == msgs["vr"] == (999, "cmdAdd failed: could not add VRF blue: operation not supported")


def test_add_check_del_lifecycle(world: World) -> None:
    need_vrf()
    prev = manual_attach(world, 72)
    cont = world.container()
    out = world.meta("vrf", "ADD", vrf_conf(), prev)
    assert out.ok, out
    vrf = link(cont, "blue")
    assert vrf is not None and vrf["linkinfo"]["info_kind"] == "vrf" and "UP" in vrf["flags"]
    table = vrf["linkinfo"]["info_data"]["table"]
    assert table == 1
    assert link(cont, "eth0")["master"] == "blue"
    addrs = {(a["local"], a["prefixlen"]) for a in ipj(cont, "addr", "show", "dev", "eth0")[0]["addr_info"]
             if a.get("scope") == "global"}
    assert addrs == {("10.72.0.2", 24), ("fd00:72::2", 64)}
    vrf_routes = {r["dst"] for r in ipj(cont, "route", "show", "table", str(table))}
    assert {"default", "198.51.100.0/24"} <= vrf_routes
    assert world.meta("vrf", "CHECK", vrf_conf(), out.json).ok
    assert world.meta("vrf", "ADD", vrf_conf(table=5), prev, ifname="eth0").msg == (
        "cmdAdd failed: VRF blue already exist with different routing table 1")
    # a second member keeps the VRF alive until it leaves too
    prev2 = manual_attach(world, 73, ifname="net1")
    assert world.meta("vrf", "ADD", vrf_conf(), prev2, ifname="net1").ok
    assert world.meta("vrf", "DEL", vrf_conf(), prev).ok
    assert link(cont, "blue") is not None and "master" not in link(cont, "eth0")
    assert world.meta("vrf", "CHECK", vrf_conf(), prev).msg == "failed to find eth0 associated to vrf blue"
    assert world.meta("vrf", "DEL", vrf_conf(), prev2, ifname="net1").ok
    assert link(cont, "blue") is None
    assert world.meta("vrf", "DEL", vrf_conf(), prev2, ifname="net1").ok


def test_link_scope_routes_are_carried_into_the_vrf(world: World) -> None:
    """ptp's container routes: an on-link gateway route (scope link) and routes via it. Upstream carries only
    the universe-scope ones and then cannot reach the gateway; pycni carries both, the link route first."""
    need_vrf()
    prev = world.attach(74, routes=[{"dst": "0.0.0.0/0"}])
    cont = world.container()
    sh("ip", "-n", cont, "route", "add", "192.0.2.0/24", "dev", "eth0", "scope", "link")
    out = world.meta("vrf", "ADD", vrf_conf(table=42), prev)
    assert out.ok, out
    assert {"192.0.2.0/24", "10.74.0.1", "default"} <= {r["dst"] for r in ipj(cont, "route", "show", "table", "42")}


def test_del_after_the_interface_is_gone(world: World) -> None:
    need_vrf()
    prev = world.attach(75)
    cont = world.container()
    assert world.meta("vrf", "ADD", vrf_conf(), prev).ok
    sh("ip", "-n", cont, "link", "del", "eth0")
    assert world.meta("vrf", "DEL", vrf_conf(), prev).ok
    assert link(cont, "blue") is None


def test_state_matches_the_reference(netns_factory: NetnsFactory, pycni_dir: str) -> None:
    need_vrf()
    need_reference("vrf")
    states = {}
    for tag, bindir in (("vp", pycni_dir), ("vr", REF_DIR)):
        w = World(netns_factory, tag, bindir, pycni_dir)
        prev = manual_attach(w, 76)
        assert w.meta("vrf", "ADD", vrf_conf(), prev).ok
        cont = w.container()
        states[tag] = normalize({"vrf": link(cont, "blue")["linkinfo"], "master": link(cont, "eth0").get("master"),
                                 "routing": routing_state(cont)}, w)
    assert_same(states["vp"], states["vr"], "VRF state after ADD")
