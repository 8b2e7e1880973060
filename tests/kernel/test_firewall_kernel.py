"""firewall in real namespaces: what `open`, `same-bridge` and `isolated` let through, and the reference's state.

World per test: a "host" netns H (plugins run inside it with `ip netns exec H`), two CNI networks on
bridges in H (fwa: containers A1, A2; fwb: container B1), attached with pycni's `bridge` plugin when it
is registered (else by hand with `ip`, with a handcrafted prevResult), and a host-side peer X on a veth
to H. Every container and X run a small TCP server (`ip netns exec ... python3`). The bridge policies
isolate CNI bridges from each other (Docker's model): traffic between two policy bridges is dropped,
`isolated` also drops traffic within one bridge; a host-side peer is not a policy bridge and stays
reachable. All namespaces are deleted by the fixtures' finalizers, also on failure.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from harness_common import (H_V4, H_V6, REF_DIR, X_V4, X_V6, NetnsFactory, ip, iptables_save, link_host_to_peer,
                            need_reference, need_tools, ns_path, nsout, run_plugin, start_server, stop_servers)

from pycni.netlink.netns import netns

PORT = 7000
# never the machine's system bus: the firewalld backend is unit-tested only
NO_DBUS = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/pycni-test-bus"}
NETS = {"fwa": ("fwbr-a", "10.66.1", "fd00:66:1:"), "fwb": ("fwbr-b", "10.66.2", "fd00:66:2:")}
PODS = {"A1": ("fwa", 2), "A2": ("fwa", 3), "B1": ("fwb", 2)}

SERVER_PY = r"""
import socket, sys, threading
name = sys.argv[1]
def serve(s):
    while True:
        c, a = s.accept()
        c.sendall(f"{name} from {a[0]}".encode()); c.close()
for fam in (socket.AF_INET, socket.AF_INET6):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("", int(sys.argv[2]))); s.listen(16)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


class World:
    def __init__(self, factory: NetnsFactory, pycni_dir: str) -> None:
        self.factory = factory
        self.pycni_dir = pycni_dir
        self.h = factory.new("fwh")
        self.x = factory.new("fwx")
        link_host_to_peer(self.h, self.x)
        ip(self.x, "route", "add", "10.66.0.0/16", "via", H_V4)
        ip(self.x, "-6", "route", "add", "fd00:66::/32", "via", H_V6)
        self.pods: dict[str, str] = {}
        self.prev: dict[str, dict] = {}
        self.servers: list[subprocess.Popen] = []

    def ip(self, pod: str, v6: bool = False) -> str:
        net, host = PODS[pod]
        return f"{NETS[net][2]}:{host}" if v6 else f"{NETS[net][1]}.{host}"

    def attach(self, pod: str) -> None:
        net, host = PODS[pod]
        br, v4, v6 = NETS[net]
        c = self.factory.new(pod.lower())
        self.pods[pod] = c
        from pycni.plugins.registry import PLUGINS

        if "bridge" in PLUGINS:
            conf = {"cniVersion": "1.0.0", "name": net, "type": "bridge", "bridge": br, "isGateway": True,
                    "dad": "skip",
                    "ipam": {"type": "static", "addresses": [{"address": f"{v4}.{host}/24", "gateway": f"{v4}.1"},
                                                             {"address": f"{v6}:{host}/64", "gateway": f"{v6}:1"}],
                             "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}
            rc, out, err = run_plugin(f"{self.pycni_dir}/bridge", "ADD", conf, self.h, ns_path(c), self.pycni_dir,
                                      f"cid-{pod}", extra_env=NO_DBUS)
            assert rc == 0, (out, err)
            self.prev[pod] = out
        else:
            self.prev[pod] = self._attach_by_hand(pod, c, br, v4, v6, host)
        self.servers.append(_serve(c, pod))

    def _attach_by_hand(self, pod: str, c: str, br: str, v4: str, v6: str, host: int) -> dict:
        h = self.h
        if nsout(h, "ip", "link", "show", br, check=False) == "":
            ip(h, "link", "add", br, "type", "bridge")
            ip(h, "addr", "add", f"{v4}.1/24", "dev", br)
            ip(h, "addr", "add", f"{v6}:1/64", "dev", br, "nodad")
            ip(h, "link", "set", br, "up")
            nsout(h, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        hv = f"hv{pod.lower()}"
        ip(c, "link", "add", "eth0", "type", "veth", "peer", "name", hv, "netns", h)
        ip(h, "link", "set", hv, "master", br, "up")
        ip(c, "addr", "add", f"{v4}.{host}/24", "dev", "eth0")
        ip(c, "addr", "add", f"{v6}:{host}/64", "dev", "eth0", "nodad")
        ip(c, "link", "set", "eth0", "up")
        ip(c, "route", "add", "default", "via", f"{v4}.1")
        ip(c, "-6", "route", "add", "default", "via", f"{v6}:1")
        return {"cniVersion": "1.0.0",
                "interfaces": [{"name": br}, {"name": hv}, {"name": "eth0", "sandbox": ns_path(c)}],
                "ips": [{"interface": 2, "address": f"{v4}.{host}/24", "gateway": f"{v4}.1"},
                        {"interface": 2, "address": f"{v6}:{host}/64", "gateway": f"{v6}:1"}]}

    def firewall(self, cmd: str, pod: str, extra: dict | None = None, ref: bool = False) -> tuple[int, dict | None, str]:
        conf: dict = {"cniVersion": "1.0.0", "name": PODS[pod][0], "type": "firewall", "backend": "iptables",
                      "prevResult": self.prev[pod]}
        conf.update(extra or {})
        path = f"{REF_DIR}/firewall" if ref else f"{self.pycni_dir}/firewall"
        cont = ns_path(self.pods[pod]) if pod in self.pods else "/run/netns/none"
        return run_plugin(path, cmd, conf, self.h, cont, REF_DIR if ref else self.pycni_dir, f"cid-{pod}",
                          extra_env=NO_DBUS)

    def stop(self) -> None:
        stop_servers(self.servers)

    def save(self, v6: bool = False) -> str:
        return iptables_save(self.h, "filter", v6)


def _serve(ns: str, name: str) -> subprocess.Popen:
    return start_server(ns, SERVER_PY, name, str(PORT))


@pytest.fixture
def world(netns_factory: NetnsFactory, pycni_dir: str) -> World:
    need_tools("iptables", "ip6tables", "iptables-save", "ip6tables-save")
    w = World(netns_factory, pycni_dir)
    try:
        yield w
    finally:
        w.stop()


def reach(ns: str, ip: str, timeout: float = 2.0) -> str | None:
    """The server's reply, or None when the connection fails (refused, dropped)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with netns(ns_path(ns)):
        s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect((ip, PORT))
        return s.recv(256).decode()
    except OSError:
        return None
    finally:
        s.close()


def _wait_reachable(ns: str, ip: str, limit: float = 8.0) -> str:
    """First contact (bridge ports come up, neighbours resolve): retry until it works."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = reach(ns, ip, 1.0)
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{ip} not reachable from {ns}")


def _baseline(w: World) -> None:
    a1, a2, b1 = (w.pods[p] for p in ("A1", "A2", "B1"))
    assert _wait_reachable(a1, w.ip("A2")).startswith("A2 from ")
    assert _wait_reachable(b1, w.ip("A1")).startswith("A1 from ")
    assert _wait_reachable(a1, w.ip("B1", True)).startswith("B1 from ")
    assert _wait_reachable(w.x, w.ip("A1")).startswith("A1 from ")
    assert _wait_reachable(a1, X_V4).startswith("X from ")


@pytest.fixture
def three(world: World) -> World:
    for pod in PODS:
        world.attach(pod)
    world.servers.append(_serve(world.x, "X"))
    _baseline(world)
    return world


def test_same_bridge_isolates_bridges_from_each_other(three: World) -> None:
    w = three
    for pod in PODS:
        rc, out, err = w.firewall("ADD", pod, {"ingressPolicy": "same-bridge"})
        assert rc == 0, (out, err)
    a1, b1 = w.pods["A1"], w.pods["B1"]
    assert reach(a1, w.ip("A2")) == f"A2 from {w.ip('A1')}"             # same bridge: allowed
    assert reach(a1, w.ip("A2", True)) == f"A2 from {w.ip('A1', True)}"
    assert reach(b1, w.ip("A1"), 1.0) is None                            # other policy bridge: dropped
    assert reach(a1, w.ip("B1"), 1.0) is None
    assert reach(b1, w.ip("A1", True), 1.0) is None
    assert reach(w.x, w.ip("A1")) == f"A1 from {X_V4}"                   # host-side peer: allowed
    assert reach(a1, X_V4) == f"X from {w.ip('A1')}"
    for pod in PODS:
        assert w.firewall("CHECK", pod, {"ingressPolicy": "same-bridge"})[0] == 0
    # DEL removes the container's rules only; the isolation stays for the others (as upstream)
    assert w.firewall("DEL", "A1", {"ingressPolicy": "same-bridge"})[0] == 0
    assert w.ip("A1") + "/32" not in w.save()
    assert reach(b1, w.ip("A2"), 1.0) is None


def test_isolated_also_drops_traffic_within_a_bridge(three: World) -> None:
    w = three
    # Traffic within a bridge meets iptables only through br_netfilter (on by default, per netns).
    keys = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")
    if nsout(w.h, "sysctl", "-n", *keys, check=False).split() != ["1", "1"]:
        nsout(w.h, "sysctl", "-qw", *(f"{k}=1" for k in keys), check=False)
    if nsout(w.h, "sysctl", "-n", *keys, check=False).split() != ["1", "1"]:
        pytest.skip("br_netfilter (bridge-nf-call-iptables) is not available: bridged traffic bypasses iptables")
    for pod in PODS:
        rc, out, err = w.firewall("ADD", pod, {"ingressPolicy": "isolated"})
        assert rc == 0, (out, err)
    a1, a2, b1 = (w.pods[p] for p in ("A1", "A2", "B1"))
    assert reach(a1, w.ip("A2"), 1.0) is None
    assert reach(a2, w.ip("A1", True), 1.0) is None
    assert reach(b1, w.ip("A1"), 1.0) is None
    assert reach(w.x, w.ip("A1")) == f"A1 from {X_V4}"
    assert reach(a1, X_V4) == f"X from {w.ip('A1')}"
    assert reach(w.x, w.ip("B1", True)) == f"B1 from {X_V6}"


def test_open_policy_accepts_the_containers_traffic(world: World) -> None:
    w = world
    w.attach("A1")
    w.servers.append(_serve(w.x, "X"))
    _wait_reachable(w.pods["A1"], X_V4)
    a1 = w.pods["A1"]
    for prog in ("iptables", "ip6tables"):
        nsout(w.h, prog, "-P", "FORWARD", "DROP")
    assert reach(a1, X_V4, 1.0) is None
    rc, out, err = w.firewall("ADD", "A1")
    assert rc == 0, (out, err)
    assert out == w.prev["A1"]
    assert reach(a1, X_V4) == f"X from {w.ip('A1')}"                     # -s IP -j ACCEPT, replies ESTABLISHED
    assert reach(a1, X_V6) == f"X from {w.ip('A1', True)}"
    assert reach(w.x, w.ip("A1"), 1.0) is None                           # new inbound: not accepted
    assert w.firewall("CHECK", "A1")[0] == 0
    assert w.firewall("DEL", "A1")[0] == 0
    assert reach(a1, X_V4, 1.0) is None
    rc, out, _ = w.firewall("CHECK", "A1")
    assert rc == 1 and out["msg"] == (f"expected rule [-d {w.ip('A1')}/32 -m conntrack --ctstate RELATED,ESTABLISHED "
                                      "-j ACCEPT] not found")
    # the admin chain is the operator's: a rule there overrides
    nsout(w.h, "iptables", "-A", "CNI-ADMIN", "-s", w.ip("A1"), "-j", "ACCEPT")
    nsout(w.h, "iptables", "-A", "CNI-ADMIN", "-d", w.ip("A1"), "-j", "ACCEPT")
    assert reach(a1, X_V4) == f"X from {w.ip('A1')}"


# --- the reference's kernel state -------------------------------------------------------------------------

PREV = {"cniVersion": "1.0.0",
        "interfaces": [{"name": "fwbr-a"}, {"name": "veth0"}, {"name": "eth0", "sandbox": "/run/netns/none"}],
        "ips": [{"interface": 2, "address": "10.66.1.2/24", "gateway": "10.66.1.1"},
                {"interface": 2, "address": "10.66.1.9/24", "gateway": "10.66.1.1"},
                {"interface": 2, "address": "fd00:66:1::2/64", "gateway": "fd00:66:1::1"}]}


def _twin(netns_factory: NetnsFactory, pycni_dir: str) -> tuple[World, World]:
    need_reference("firewall")
    need_tools("iptables", "ip6tables", "iptables-save", "ip6tables-save")
    ref, py = World(netns_factory, pycni_dir), World(netns_factory, pycni_dir)
    for w in (ref, py):
        w.prev["A1"] = PREV
    return ref, py


def _norm(saved: str) -> str:
    # HEAD tags the shared isolation rules "(ingressPolicy: same-bridge|isolated)"; 1.1.1 used the policy name
    return saved.replace("(ingressPolicy: same-bridge|isolated)", "(ingressPolicy: same-bridge)")


@pytest.mark.parametrize("extra", [{}, {"ingressPolicy": "same-bridge"}, {"iptablesAdminChainName": "MY-ADMIN"}],
                         ids=["open", "same-bridge", "admin-chain"])
def test_iptables_state_matches_the_reference(netns_factory: NetnsFactory, pycni_dir: str, extra: dict) -> None:
    ref, py = _twin(netns_factory, pycni_dir)
    for w in (ref, py):
        nsout(w.h, "iptables", "-A", "FORWARD", "-s", "198.51.100.0/24", "-j", "ACCEPT")  # a rule already there
    rc_r, out_r, err_r = ref.firewall("ADD", "A1", extra, ref=True)
    rc_p, out_p, err_p = py.firewall("ADD", "A1", extra)
    assert (rc_r, rc_p) == (0, 0), (out_r, err_r, out_p, err_p)
    assert {k: v for k, v in out_r.items() if k != "dns"} == out_p == PREV
    for v6 in (False, True):
        assert _norm(py.save(v6)) == _norm(ref.save(v6)), f"ipv{6 if v6 else 4} filter differs"
    assert ref.firewall("ADD", "A1", extra, ref=True)[0] == 0 and py.firewall("ADD", "A1", extra)[0] == 0
    assert _norm(py.save()) == _norm(ref.save())  # both idempotent
    assert ref.firewall("CHECK", "A1", extra, ref=True)[0] == 0 and py.firewall("CHECK", "A1", extra)[0] == 0
    assert ref.firewall("DEL", "A1", extra, ref=True)[0] == 0 and py.firewall("DEL", "A1", extra)[0] == 0
    for v6 in (False, True):
        assert _norm(py.save(v6)) == _norm(ref.save(v6))
        assert "10.66.1.2" not in py.save(v6) and "fd00:66:1::2" not in py.save(v6)


def test_bad_policy_leaves_nothing_behind_unlike_the_reference(netns_factory: NetnsFactory, pycni_dir: str) -> None:
    ref, py = _twin(netns_factory, pycni_dir)
    bad = {"ingressPolicy": "bogus"}
    rc_r, out_r, _ = ref.firewall("ADD", "A1", bad, ref=True)
    rc_p, out_p, _ = py.firewall("ADD", "A1", bad)
    assert (rc_r, out_r["msg"]) == (rc_p, out_p["msg"]) == (1, 'unknown ingress policy: "bogus"')
    assert "-s 10.66.1.2/32 -j ACCEPT" in ref.save()  # upstream's leftovers
    assert "10.66.1.2" not in py.save() and "CNI-FORWARD" not in py.save()
