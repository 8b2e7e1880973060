"""portmap in real namespaces: traffic through the mapped ports, DEL, CHECK, and the reference's kernel state.

World per test: a "host" netns H (the plugins run inside it with `ip netns exec H`, so no rule ever
touches the real host), a container netns C attached with pycni's `ptp` (static IPAM, IPv4 + IPv6,
default routes via the gateways), and an external peer X on a veth to H (192.0.2.1 <-> 192.0.2.2,
2001:db8:2::1 <-> 2001:db8:2::2). Servers run in C with `ip netns exec C python3`; clients are sockets
opened inside H, X or C. Everything is deleted by the fixtures' finalizers, also on failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from harness_common import (CID, H_V4, H_V6, REF_DIR, X_V4, X_V6, NetnsFactory, ip, iptables_save, link_host_to_peer,
                            need_reference, need_tools, ns_path, nsout, run_plugin, start_server, stop_servers)

from pycni.netlink.netns import netns

NET = "pmnet"
C_V4, C_V6 = "10.99.1.2", "fd00:99:1::2"
GW_V4, GW_V6 = "10.99.1.1", "fd00:99:1::1"
DN = "CNI-DN-" + __import__("hashlib").sha512((NET + CID).encode()).hexdigest()[:21]
MAPS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp"},
        {"hostPort": 9090, "containerPort": 90, "protocol": "tcp", "hostIP": H_V4}]

SERVER_PY = r"""
import socket, sys, threading
name = sys.argv[1]
def serve_tcp(s, port):
    while True:
        c, a = s.accept()
        c.sendall(f"{name} tcp {port} from {a[0]}\n".encode()); c.close()
def serve_udp(s, port):
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(f"{name} udp {port} from {a[0]}".encode(), a)
for spec in sys.argv[2:]:
    proto, port = spec.split(":"); port = int(port)
    for fam in (socket.AF_INET, socket.AF_INET6):
        s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("", port))
        if proto == "tcp":
            s.listen(16)
        threading.Thread(target=serve_tcp if proto == "tcp" else serve_udp, args=(s, port), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


class World:
    def __init__(self, factory: NetnsFactory, pycni_dir: str, tag: str = "") -> None:
        self.pycni_dir = pycni_dir
        self.h = factory.new(f"pmh{tag}")
        self.c = factory.new(f"pmc{tag}")
        self.x = factory.new(f"pmx{tag}")
        link_host_to_peer(self.h, self.x)
        self.servers: list[subprocess.Popen] = []
        self.prev: dict | None = None

    @property
    def c_path(self) -> str:
        return ns_path(self.c)

    def attach(self, settle: bool = False) -> dict:
        """The container interface, made by pycni's ptp (static IPAM, dual stack)."""
        conf = {"cniVersion": "1.0.0", "name": NET, "type": "ptp", "dad": "skip",
                "ipam": {"type": "static",
                         "addresses": [{"address": f"{C_V4}/24", "gateway": GW_V4},
                                       {"address": f"{C_V6}/64", "gateway": GW_V6}],
                         "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}
        rc, out, err = run_plugin(f"{self.pycni_dir}/ptp", "ADD", conf, self.h, self.c_path, self.pycni_dir)
        assert rc == 0, (out, err)
        self.prev = out
        if settle:
            self.settle()
        return out

    def settle(self, limit: float = 10.0) -> None:
        """Wait until no global IPv6 address is tentative (ptp's host-side gateway address does DAD)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            busy = [a for ns in (self.h, self.c)
                    for i in json.loads(ip(ns, "-6", "-j", "addr", "show", "tentative") or "[]")
                    for a in i.get("addr_info", []) if a.get("scope") == "global"]
            if not busy:
                return
            time.sleep(0.1)
        raise AssertionError("IPv6 addresses still tentative")

    def portmap(self, cmd: str, extra: dict | None = None, ref: bool = False, prev: bool = True,
                cid: str = CID) -> tuple[int, dict | None, str]:
        conf: dict = {"cniVersion": "1.0.0", "name": NET, "type": "portmap", "runtimeConfig": {"portMappings": MAPS}}
        if prev:
            conf["prevResult"] = self.prev
        conf.update(extra or {})
        path = f"{REF_DIR}/portmap" if ref else f"{self.pycni_dir}/portmap"
        return run_plugin(path, cmd, conf, self.h, self.c_path, REF_DIR if ref else self.pycni_dir, cid)

    def serve(self, name: str, *specs: str) -> None:
        self.servers.append(start_server(self.c, SERVER_PY, name, *specs))

    def stop(self) -> None:
        stop_servers(self.servers)

    def save(self, v6: bool = False) -> str:
        return iptables_save(self.h, "nat", v6)

    def nft_rules(self) -> list[dict]:
        data = json.loads(nsout(self.h, "nft", "-j", "list", "ruleset"))
        return [i["rule"] for i in data["nftables"] if "rule" in i]


@pytest.fixture
def world(netns_factory: NetnsFactory, pycni_dir: str) -> World:
    w = World(netns_factory, pycni_dir)
    try:
        yield w
    finally:
        w.stop()


def talk(ns: str, ip: str, port: int, proto: str = "tcp", timeout: float = 2.0, sport: int = 0) -> str:
    """One exchange with a server; the reply text. Raises OSError (refused, timeout) otherwise."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with netns(ns_path(ns)):
        s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", sport))
        if proto == "tcp":
            s.connect((ip, port))
            return s.recv(1024).decode()
        s.sendto(b"hi", (ip, port))
        return s.recv(1024).decode()
    finally:
        s.close()


def fails(ns: str, ip: str, port: int, proto: str = "tcp", timeout: float = 1.0) -> bool:
    try:
        talk(ns, ip, port, proto, timeout)
    except OSError:
        return True
    return False


# --- traffic ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_mapped_ports_carry_traffic_and_del_removes_everything(world: World, backend: str) -> None:
    need_tools("iptables", "ip6tables", "iptables-save") if backend == "iptables" else need_tools("nft")
    w = world
    w.attach(settle=True)
    w.serve("pod", "tcp:80", "udp:53", "tcp:90")
    extra = {"backend": backend}
    rc, out, err = w.portmap("ADD", extra)
    assert rc == 0, (out, err)
    assert out == w.prev  # prevResult passes through
    # from the host netns, to its own addresses (OUTPUT path), IPv4 and IPv6
    assert talk(w.h, GW_V4, 8080).startswith(f"pod tcp 80 from {GW_V4}")
    assert talk(w.h, GW_V6, 8080).startswith(f"pod tcp 80 from {GW_V6}")
    assert talk(w.h, H_V4, 8080).startswith("pod tcp 80 from ")
    # localhost: marked for masquerade, route_localnet on the interface towards the container
    assert talk(w.h, "127.0.0.1", 8080).startswith(f"pod tcp 80 from {GW_V4}")
    host_veth = w.prev["interfaces"][0]["name"]
    assert nsout(w.h, "cat", f"/proc/sys/net/ipv4/conf/{host_veth}/route_localnet").strip() == "1"
    # from outside (PREROUTING path), TCP and UDP, IPv4 and IPv6
    assert talk(w.x, H_V4, 8080) == f"pod tcp 80 from {X_V4}\n"
    assert talk(w.x, H_V6, 8080) == f"pod tcp 80 from {X_V6}\n"
    assert talk(w.x, H_V4, 5353, "udp") == f"pod udp 53 from {X_V4}"
    assert talk(w.x, H_V6, 5353, "udp") == f"pod udp 53 from {X_V6}"
    # hostIP: only that destination
    assert talk(w.x, H_V4, 9090) == f"pod tcp 90 from {X_V4}\n"
    assert fails(w.h, GW_V4, 9090)
    assert fails(w.x, H_V6, 9090)
    # hairpin: the container reaches itself through the host port, masqueraded
    reply = talk(w.c, H_V4, 8080)
    assert reply.startswith("pod tcp 80 from ") and C_V4 not in reply
    reply = talk(w.c, H_V6, 8080)
    assert reply.startswith("pod tcp 80 from ") and C_V6 not in reply

    assert w.portmap("CHECK", extra)[0] == 0
    rc, out, err = w.portmap("DEL", extra)
    assert rc == 0, (out, err)
    for ns, ip in ((w.h, GW_V4), (w.h, GW_V6), (w.x, H_V4), (w.x, H_V6), (w.h, "127.0.0.1")):
        assert fails(ns, ip, 8080), (ns, ip)
    _assert_no_container_rules(w, backend)
    assert w.portmap("DEL", extra)[0] == 0  # idempotent
    rc, out, _ = w.portmap("CHECK", extra)
    assert rc == 1


def _assert_no_container_rules(w: World, backend: str) -> None:
    if backend == "iptables":
        for v6 in (False, True):
            saved = w.save(v6)
            assert "CNI-DN-" not in saved and C_V4 not in saved and C_V6 not in saved, saved
            # only the shared chains stay (as upstream)
            assert ":CNI-HOSTPORT-DNAT" in saved and ":CNI-HOSTPORT-MASQ" in saved
    assert not [r for r in w.nft_rules() if r.get("comment") == CID]


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_del_with_the_namespace_gone(world: World, backend: str, netns_factory: NetnsFactory) -> None:
    need_tools("iptables", "ip6tables", "iptables-save") if backend == "iptables" else need_tools("nft")
    w = world
    w.attach()
    assert w.portmap("ADD", {"backend": backend})[0] == 0
    nsout(None, "ip", "netns", "del", w.c)
    netns_factory.names.remove(w.c)
    rc, out, err = w.portmap("DEL", {"backend": backend}, prev=False)
    assert rc == 0, (out, err)
    _assert_no_container_rules(w, backend)


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_stale_udp_conntrack_entries_are_flushed(world: World, backend: str) -> None:
    need_tools("iptables", "ip6tables") if backend == "iptables" else need_tools("nft")
    if not os.path.exists("/proc/net/nf_conntrack"):
        pytest.skip("no /proc/net/nf_conntrack (CONFIG_NF_CONNTRACK_PROCFS)")
    w = world
    w.attach()
    w.serve("pod", "udp:53")
    # Another container's mapping makes the host track connections (nat hooks registered) ...
    other = {"backend": backend, "runtimeConfig": {"portMappings": [{"hostPort": 6000, "containerPort": 1,
                                                                     "protocol": "tcp"}]}}
    assert w.portmap("ADD", other, cid="cid0")[0] == 0
    # ... so a packet to the not yet mapped port leaves a conntrack entry without DNAT.
    with pytest.raises(OSError):
        talk(w.x, H_V4, 5353, "udp", timeout=0.5, sport=40000)
    assert "dport=5353" in nsout(w.h, "cat", "/proc/net/nf_conntrack")
    assert w.portmap("ADD", {"backend": backend})[0] == 0
    # The same 5-tuple must now be DNATed: it only is if the stale entry was deleted.
    assert talk(w.x, H_V4, 5353, "udp", sport=40000) == f"pod udp 53 from {X_V4}"


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_check_notices_a_missing_rule(world: World, backend: str) -> None:
    need_tools("iptables", "iptables-save") if backend == "iptables" else need_tools("nft")
    w = world
    w.attach()
    assert w.portmap("ADD", {"backend": backend})[0] == 0
    assert w.portmap("CHECK", {"backend": backend})[0] == 0
    if backend == "iptables":
        nsout(w.h, "iptables", "-t", "nat", "-D", DN, "-p", "udp", "-m", "udp", "--dport", "5353", "-j", "DNAT",
           "--to-destination", f"{C_V4}:53")
        rc, out, _ = w.portmap("CHECK", {"backend": backend})
        assert rc == 1 and out["msg"].startswith("could not check ipv4 dnat: rule [[") and \
            out["msg"].endswith(f"] in chain {DN} not found in table nat")
    else:
        rules = [r for r in w.nft_rules() if r.get("comment") == CID and r["family"] == "ip6"
                 and r["chain"] == "masquerading"]
        nsout(w.h, "nft", "delete", "rule", "ip6", "cni_hostport", "masquerading", "handle", str(rules[0]["handle"]))
        rc, out, _ = w.portmap("CHECK", {"backend": backend})
        assert (rc, out["msg"]) == (1, 'missing hostport rules in "masquerading" chain')


def test_nftables_state(world: World) -> None:
    need_tools("nft")
    w = world
    w.attach()
    assert w.portmap("ADD", {"backend": "nftables", "masqAll": True})[0] == 0
    text = nsout(w.h, "nft", "list", "table", "ip", "cni_hostport")
    body = [line.strip() for line in text.splitlines()]
    for want in (
        'comment "CNI portmap plugin"',
        f'tcp dport 8080 dnat to {C_V4}:80 comment "{CID}"',
        f'udp dport 5353 dnat to {C_V4}:53 comment "{CID}"',
        f'ip daddr {H_V4} tcp dport 9090 dnat to {C_V4}:90 comment "{CID}"',
        "jump hostip_hostports", "jump hostports",
        "type nat hook prerouting priority dstnat; policy accept;",
        "type nat hook postrouting priority srcnat; policy accept;",
        "fib daddr type local jump hostports_all",
        f'ip saddr 0.0.0.0/0 ip daddr {C_V4} masquerade comment "{CID}"',
    ):
        assert want in body, (want, text)
    text6 = nsout(w.h, "nft", "list", "table", "ip6", "cni_hostport")
    assert f'tcp dport 8080 dnat to [{C_V6}]:80 comment "{CID}"' in text6
    assert "9090" not in text6
    # a second container's rules are kept when the first is deleted
    assert w.portmap("ADD", {"backend": "nftables"}, cid="cid2")[0] == 0
    assert w.portmap("DEL", {"backend": "nftables"})[0] == 0
    rules = w.nft_rules()
    assert not [r for r in rules if r.get("comment") == CID]
    assert len([r for r in rules if r.get("comment") == "cid2"]) == 3 + 2 + 2 + 1


# --- the reference's kernel state -------------------------------------------------------------------------


@pytest.fixture
def twins(netns_factory: NetnsFactory, pycni_dir: str) -> tuple[World, World]:
    need_reference("portmap")
    need_tools("iptables", "ip6tables", "iptables-save", "ip6tables-save")
    return World(netns_factory, pycni_dir, "r"), World(netns_factory, pycni_dir, "p")


@pytest.mark.parametrize("extra", [
    {},
    {"snat": False},
    {"markMasqBit": 5, "conditionsV4": ["-s", "192.0.2.0/24"], "conditionsV6": ["!", "-s", "::1"]},
    {"externalSetMarkChain": "KUBE-MARK-MASQ"},
], ids=["default", "nosnat", "markbit-conditions", "external-chain"])
def test_iptables_state_matches_the_reference(twins: tuple[World, World], extra: dict) -> None:
    ref, py = twins
    for w in twins:
        w.attach()
        if "externalSetMarkChain" in extra:
            for prog in ("iptables", "ip6tables"):
                nsout(w.h, prog, "-t", "nat", "-N", "KUBE-MARK-MASQ")
    many = MAPS + [{"hostPort": 10000 + i, "containerPort": 100 + i, "protocol": "tcp"} for i in range(16)]
    conf = dict(extra, runtimeConfig={"portMappings": many})
    rc_r, out_r, err_r = ref.portmap("ADD", conf, ref=True)
    rc_p, out_p, err_p = py.portmap("ADD", dict(conf, backend="iptables"))
    assert (rc_r, rc_p) == (0, 0), (out_r, err_r, out_p, err_p)
    # both answer their prevResult unchanged (the reference, 1.1.1, also prints an empty dns)
    assert {k: v for k, v in out_r.items() if k != "dns"} == {k: v for k, v in ref.prev.items() if k != "dns"}
    assert out_p == py.prev
    for v6 in (False, True):
        assert py.save(v6) == ref.save(v6), f"ipv{6 if v6 else 4} nat differs"
    for w in twins:
        veth = w.prev["interfaces"][0]["name"]
        want = "0" if extra.get("snat") is False else "1"
        assert nsout(w.h, "cat", f"/proc/sys/net/ipv4/conf/{veth}/route_localnet").strip() == want
    assert ref.portmap("DEL", conf, ref=True)[0] == 0
    assert py.portmap("DEL", dict(conf, backend="iptables"))[0] == 0
    for v6 in (False, True):
        assert py.save(v6) == ref.save(v6)
