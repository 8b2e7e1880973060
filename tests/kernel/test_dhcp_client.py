"""The daemon's DHCP client (pycni.plugins.ipam.dhcp.lease) against a real dnsmasq in throwaway namespaces
(tests/kernel/dhcp_net.py): acquire, the result's routes, renewal, release, server down, adoption after a
restart, DHCPv6, several routers, link loss, 20 parallel leases. dnsmasq's lease file and log are the oracle.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from dhcp_net import SERVER_V4, DhcpNet, _ip, dhcp_net, skip_reason
from harness_common import nsx, sh

from pycni.ipam.configure import configure_iface
from pycni.netlink.netns import run_in_netns
from pycni.plugins.ipam.dhcp import lease as L

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))]

ROUTE121 = [("10.20.0.0/16", "192.168.77.254"), ("0.0.0.0/0", SERVER_V4)]
FAST = {"timeout": 1.0, "resend_max": 2.0, "resend_timeout": 8.0}


def cfg_for(c, cid: str = "cid1", **kw: object) -> L.LeaseConfig:
    args: dict[str, object] = dict(FAST)
    args.update(kw)
    return L.LeaseConfig(cid, "net1", c.ifname, c.netns, **args)  # type: ignore[arg-type]


def configure(c, lease: L.Lease) -> None:
    """What the main plugin would do with the result: the address on the link (renewal ACKs are unicast)."""
    _ip(c.ns, "addr", "add", lease.result()["ips"][0]["address"], "dev", c.ifname)


def wait_for(pred, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def ip_of(lease: L.Lease) -> str:
    return lease.result()["ips"][0]["address"].split("/")[0]


def requests_from(net: DhcpNet, mac: str) -> int:
    return sum(1 for line in net.log().splitlines() if "DHCPREQUEST" in line and mac in line)


@pytest.mark.parametrize("kind", ["macvlan", "veth"])
def test_acquire_option121_and_release(kind: str) -> None:
    with dhcp_net([kind], classless=ROUTE121) as net:
        c = net.containers[0]
        lease = L.acquire(cfg_for(c, request=[(121, False)]))
        try:
            res = lease.result()
            assert res["cniVersion"] == "1.1.0"
            addr, plen = res["ips"][0]["address"].split("/")
            assert plen == "24" and addr.startswith("192.168.77.")
            assert res["ips"][0]["gateway"] == SERVER_V4
            # 121 replaces everything: exactly its routes, no extra default route from option 3
            assert res["routes"] == [{"dst": "10.20.0.0/16", "gw": "192.168.77.254"},
                                     {"dst": "0.0.0.0/0", "gw": SERVER_V4}]
            le = net.lease_for(addr)
            assert le is not None and le.hwaddr == c.mac
            assert le.client_id == ":".join(f"{b:02x}" for b in b"\0cid1/net1/eth0")
            assert lease.alive()
            json.dumps(lease.state())
        finally:
            lease.release()
        assert not lease.alive()
        assert wait_for(lambda: net.lease_for(addr) is None, 3), net.leases()


def test_option121_only_when_requested() -> None:
    """dnsmasq sends 121 (and 33) only when asked: without 121 in the PRL the routes come from options 33 (with
    its classful mask, destination as sent) and 3."""
    with dhcp_net(["veth"], classless=ROUTE121, static_routes=[("10.30.0.0", "192.168.77.253")]) as net:
        lease = L.acquire(cfg_for(net.containers[0], request=[(33, False)]))
        try:
            assert lease.result()["routes"] == [{"dst": "10.30.0.0/8", "gw": "192.168.77.253"},
                                                {"dst": "0.0.0.0/0", "gw": SERVER_V4}]
            assert "requested options: 33:static-route, 3:router, 1:netmask" in net.log()
        finally:
            lease.release()


def test_option121_onlink_route_scope_and_priority() -> None:
    with dhcp_net(["veth"], classless=[("10.40.0.0/16", "0.0.0.0")], force_classless=True) as net:
        lease = L.acquire(cfg_for(net.containers[0], priority=100))
        try:
            assert lease.result()["routes"] == [{"dst": "10.40.0.0/16", "gw": "0.0.0.0", "scope": 253,
                                                 "priority": 100}]
        finally:
            lease.release()


def test_no_router_option_no_default_route() -> None:
    with dhcp_net(["veth"], routers=()) as net:
        lease = L.acquire(cfg_for(net.containers[0]))
        try:
            res = lease.result()
            assert "gateway" not in res["ips"][0]
            assert res["routes"] == []
        finally:
            lease.release()


def test_renewal_within_t1() -> None:
    with dhcp_net(["macvlan"], t1=2, t2=4) as net:
        c = net.containers[0]
        changes: list[float] = []
        lease = L.acquire(cfg_for(c))
        lease.on_change = lambda: changes.append(time.monotonic())
        try:
            configure(c, lease)
            before = requests_from(net, c.mac)
            first = net.lease_for(ip_of(lease))
            assert first is not None
            assert wait_for(lambda: len(changes) >= 1, 6), net.log()[-2000:]
            assert requests_from(net, c.mac) > before
            renewed = net.lease_for(ip_of(lease))
            assert renewed is not None and renewed.expiry > first.expiry
            assert lease.alive()
        finally:
            lease.release()


def test_server_down_is_a_bounded_clean_error() -> None:
    with dhcp_net(["veth"], start=False) as net:
        t0 = time.monotonic()
        with pytest.raises(L.LeaseError) as ei:
            L.acquire(cfg_for(net.containers[0], timeout=0.5, resend_max=1.0, resend_timeout=4.0))
        took = time.monotonic() - t0
        assert str(ei.value) == "no more tries"
        assert took < 4.0 + 2.0


def test_missing_link_and_netns_errors() -> None:
    with dhcp_net(["veth"]) as net:
        c = net.containers[0]
        with pytest.raises(L.LeaseError) as ei:
            L.acquire(L.LeaseConfig("cid1", "net1", "nope0", c.netns, **FAST))  # type: ignore[arg-type]
        assert str(ei.value) == 'error looking up "nope0": Link not found'
        with pytest.raises(L.LeaseError) as ei:
            L.acquire(L.LeaseConfig("cid1", "net1", "eth0", "/run/netns/pycni-no-such-ns", **FAST))  # type: ignore[arg-type]
        assert "/run/netns/pycni-no-such-ns" in str(ei.value)


def test_adopt_after_restart_keeps_renewing_and_releases() -> None:
    with dhcp_net(["veth"], t1=2, t2=4) as net:
        c = net.containers[0]
        cfg = cfg_for(c)
        lease = L.acquire(cfg)
        configure(c, lease)
        addr = ip_of(lease)
        state = json.loads(json.dumps(lease.state()))  # what the daemon writes to disk
        lease.stop()  # daemon shutdown: no release
        assert not lease.alive()
        assert net.lease_for(addr) is not None
        first = net.lease_for(addr)
        assert first is not None

        changes: list[int] = []
        again = L.adopt(state, cfg_for(c))
        again.on_change = lambda: changes.append(1)
        try:
            assert again.result() == lease.result()
            assert wait_for(lambda: changes, 6), net.log()[-2000:]
            renewed = net.lease_for(addr)
            assert renewed is not None and renewed.expiry > first.expiry
        finally:
            again.release()
        assert wait_for(lambda: net.lease_for(addr) is None, 3), net.leases()


def test_adopt_refuses_a_gone_link() -> None:
    with dhcp_net(["veth"]) as net:
        c = net.containers[0]
        lease = L.acquire(cfg_for(c))
        state = lease.state()
        lease.stop()
        _ip(c.ns, "link", "del", c.ifname)
        with pytest.raises(L.LeaseError):
            L.adopt(state, cfg_for(c))
        with pytest.raises(L.LeaseError):
            L.adopt({"version": 99}, cfg_for(c))


def test_link_gone_ends_maintenance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "LINK_CHECK_INTERVAL", 0.5)
    with dhcp_net(["veth"]) as net:
        c = net.containers[0]
        lease = L.acquire(cfg_for(c))
        assert lease.alive()
        _ip(c.ns, "link", "del", c.ifname)
        assert wait_for(lambda: not lease.alive(), 5)
        t0 = time.monotonic()
        lease.release()  # nothing left to release; returns at once
        assert time.monotonic() - t0 < 1.0
        # the whole namespace going away ends it too (no fd of ours keeps it alive)
        c2 = net.add_container("veth")
        lease2 = L.acquire(cfg_for(c2, cid="ns-gone"))
        sh("ip", "netns", "del", c2.ns)
        assert wait_for(lambda: not lease2.alive(), 5)
        lease2.release()


def test_broadcast_flag_is_sent() -> None:
    with dhcp_net(["veth"]) as net:
        lease = L.acquire(cfg_for(net.containers[0], broadcast=True))
        try:
            assert "broadcast response" in net.log()
        finally:
            lease.release()
    with dhcp_net(["veth"]) as net:
        lease = L.acquire(cfg_for(net.containers[0]))
        try:
            assert "broadcast response" not in net.log()
        finally:
            lease.release()


def test_several_routers_multipath() -> None:
    routers = (SERVER_V4, "192.168.77.2", "192.168.77.3")
    with dhcp_net(["veth", "veth"], routers=routers) as net:
        c1, c2 = net.containers
        plain = L.acquire(cfg_for(c1, cid="a"))
        multi = L.acquire(cfg_for(c2, cid="b", multipath_routers=True))
        try:
            # HEAD: the first router only, as gateway and default route
            assert plain.result()["ips"][0]["gateway"] == SERVER_V4
            assert plain.result()["routes"] == [{"dst": "0.0.0.0/0", "gw": SERVER_V4}]
            assert multi.result()["ips"][0]["gateway"] == SERVER_V4
            assert multi.result()["routes"] == [{"dst": "0.0.0.0/0", "gw": g} for g in routers]
        finally:
            plain.release()
            multi.release()


def test_dhcpv6_lease() -> None:
    with dhcp_net(["veth"], ipv6=True, t1=2, t2=4) as net:
        c = net.containers[0]
        lease = L.acquire(cfg_for(c, ipv6=True))
        try:
            ips = lease.result()["ips"]
            assert len(ips) == 2
            v6, plen = ips[1]["address"].split("/")
            assert plen == "128" and v6.startswith("fd77::1")
            assert wait_for(lambda: net.lease_for(v6) is not None, 3), net.leases()
            st = json.loads(json.dumps(lease.state()))
            assert st["v6"]["address"] == v6
        finally:
            lease.release()
        assert wait_for(lambda: net.lease_for(v6) is None, 3), net.leases()


def test_twenty_parallel_acquires_get_distinct_leases() -> None:
    with dhcp_net([]) as net:
        conts = [net.add_container("macvlan" if i % 2 else "veth") for i in range(20)]
        leases: list[L.Lease] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            try:
                le = L.acquire(cfg_for(conts[i], cid=f"par{i}", resend_timeout=30.0))
                with lock:
                    leases.append(le)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.monotonic() - t0
        try:
            assert not errors, errors
            ips = {ip_of(le) for le in leases}
            assert len(ips) == 20
            assert {le.ip for le in net.leases()} >= ips
            print(f"20 parallel acquires: {took:.2f}s")
        finally:
            for le in leases:
                le.release()


def test_rebind_after_server_outage() -> None:
    """Renewals fail while the server is down; past T2 the lease rebinds (HEAD: a fresh DISCOVER) once the server
    is back, and keeps the same address."""
    with dhcp_net(["veth"], t1=2, t2=4) as net:
        c = net.containers[0]
        lease = L.acquire(cfg_for(c, timeout=0.3, resend_max=1.0, resend_timeout=2.0))
        changes: list[float] = []
        lease.on_change = lambda: changes.append(time.monotonic())
        try:
            configure(c, lease)
            addr = ip_of(lease)
            net.stop_server()
            time.sleep(4.5)  # past T2 with every renewal failing
            assert not changes and lease.alive()
            net.start_server()
            assert wait_for(lambda: changes, 8), net.log()[-2000:]
            assert ip_of(lease) == addr
            assert "DHCPDISCOVER" in net.log().split("started, version")[-1]  # rebinding = full DORA
        finally:
            lease.release()


def test_multipath_routers_install_one_multipath_route_and_split_traffic() -> None:
    """Option 3 with two routers and multipath_routers: configure_iface (as ptp/macvlan call it) merges the two
    default routes into ONE route with two nexthops, and L4-hashed flows use both routers."""
    routers = ("192.168.77.2", "192.168.77.3")
    with dhcp_net(["veth"], routers=routers) as net:
        c = net.containers[0]
        rns = []
        for i, gw in enumerate(routers):
            r = net.new_ns(f"r{i}")
            _ip(net.server_ns, "link", "add", f"s-r{i}", "type", "veth", "peer", "name", "eth0", "netns", r)
            _ip(net.server_ns, "link", "set", f"s-r{i}", "master", "br0", "up")
            _ip(r, "addr", "add", f"{gw}/24", "dev", "eth0")
            _ip(r, "link", "set", "eth0", "up")
            rns.append(r)
        lease = L.acquire(cfg_for(c, multipath_routers=True))
        try:
            res = lease.result()
            res["interfaces"] = [{"name": c.ifname}]
            res["ips"][0]["interface"] = 0
            run_in_netns(c.netns, configure_iface, c.ifname, res)
            defaults = json.loads(_ip(c.ns, "-j", "route", "show", "default") or "[]")
            assert len(defaults) == 1, defaults
            assert sorted(h["gateway"] for h in defaults[0]["nexthops"]) == list(routers)

            sh("ip", "netns", "exec", c.ns, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")

            def rx(ns: str) -> int:
                return int(json.loads(_ip(ns, "-j", "-s", "link", "show", "eth0"))[0]["stats64"]["rx"]["packets"])

            before = [rx(r) for r in rns]
            script = ("import socket\n"
                      "for p in range(40000, 40064):\n"
                      "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                      "    s.bind(('', p)); s.sendto(b'x', ('198.51.100.7', 9)); s.close()\n")
            nsx(c.ns, "python3", "-c", script)
            time.sleep(0.5)
            got = [rx(r) - b for r, b in zip(rns, before, strict=True)]
            assert all(g >= 8 for g in got), got  # 64 flows; both routers carry a fair share
        finally:
            lease.release()


def test_dhcpv6_without_a_v6_server_fails_cleanly_and_gives_the_v4_lease_back() -> None:
    with dhcp_net(["veth"]) as net:
        with pytest.raises(L.LeaseError) as ei:
            L.acquire(cfg_for(net.containers[0], ipv6=True, timeout=0.3, resend_max=1.0, resend_timeout=2.0))
        assert str(ei.value) == "DHCPv6: no more tries"
        assert wait_for(lambda: net.leases() == [], 3), net.leases()


def test_dhcpv6_renew_after_adopt_and_release() -> None:
    """dnsmasq's v6 T1 is half the (minimum 2 min) lease: the saved state is aged instead, so the adopted lease
    renews at once (a RENEW, with the server's id), then releases both families."""
    with dhcp_net(["veth"], ipv6=True) as net:
        c = net.containers[0]
        lease = L.acquire(cfg_for(c, ipv6=True))
        configure(c, lease)
        v6 = lease.result()["ips"][1]["address"].split("/")[0]
        st = json.loads(json.dumps(lease.state()))
        lease.stop()
        st["v6"]["t1"] = time.time() - 1
        changes: list[int] = []
        again = L.adopt(st, cfg_for(c, ipv6=True))
        again.on_change = lambda: changes.append(1)
        try:
            assert wait_for(lambda: changes, 6), net.log()[-2000:]
            assert "DHCPRENEW" in net.log()
            assert again.result()["ips"][1]["address"] == f"{v6}/128"
        finally:
            again.release()
        assert wait_for(lambda: net.leases() == [], 3), net.leases()


def test_dual_stack_v4_failure_is_prompt() -> None:
    """With ipv6 on and no server at all, the error comes within one resend_timeout (v6 is stopped with v4)."""
    with dhcp_net(["veth"], start=False) as net:
        t0 = time.monotonic()
        with pytest.raises(L.LeaseError) as ei:
            L.acquire(cfg_for(net.containers[0], ipv6=True, timeout=0.3, resend_max=1.0, resend_timeout=2.0))
        assert str(ei.value) == "no more tries"
        assert time.monotonic() - t0 < 2.0 + 2.0


def test_provided_options_reach_the_server() -> None:
    """ipam.provide (here host-name, option 12; upstream #435) is sent; a provided 61 replaces the client-id."""
    with dhcp_net(["veth", "veth"]) as net:
        c1, c2 = net.containers
        a = L.acquire(cfg_for(c1, cid="a", provide=[(12, b"pod-a")]))
        b = L.acquire(cfg_for(c2, cid="b", provide=[(61, b"\x01myid")]))
        try:
            la, lb = net.lease_for(ip_of(a)), net.lease_for(ip_of(b))
            assert la is not None and la.hostname == "pod-a"
            assert lb is not None and lb.client_id == "01:6d:79:69:64"
        finally:
            a.release()
            b.release()
        assert wait_for(lambda: net.leases() == [], 3), net.leases()
