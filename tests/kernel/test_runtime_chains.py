"""`pycni add/check/del/gc` driving real plugin chains inside throwaway namespaces.

Each test creates a "host" namespace and container namespaces (conftest's netns_factory), runs the
runtime as `ip netns exec HOST pycni ...` (so bridges and host-side veths live in HOST, never on
the real host), keeps the result cache, host-local's dataDir and the plugin directory under
tmp_path; the namespaces are deleted in the factory's finalizer even when the test fails. The oracle is
iproute2's JSON output. Chains: the reference bridge + host-local, the reference ptp delegating
to pycni's static (found first on CNI_PATH), and pycni's own bridge + host-local when installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from harness_common import REF_DIR, NetnsFactory, ip_status, ipj


def _skip_reason() -> str | None:
    """Root and iproute2 are conftest's checks; these chains also need the reference plugins."""
    for p in ("bridge", "host-local", "ptp"):
        if not os.path.isfile(os.path.join(REF_DIR, p)):
            return f"reference plugin {REF_DIR}/{p} missing (Debian package containernetworking-plugins)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


class World:
    """Namespaces, directories and the `pycni` command for one test."""

    def __init__(self, tmp_path, factory: NetnsFactory) -> None:
        self.tag = os.urandom(3).hex()
        self.tmp = tmp_path
        self.factory = factory
        self.netconf = str(tmp_path / "net.d")
        self.cache = str(tmp_path / "cache")
        self.data = str(tmp_path / "ipam")
        os.makedirs(self.netconf)
        self.host = self.netns("h")
        self.octet = int(self.tag[:2], 16) % 200 + 20

    def netns(self, role: str) -> str:
        return self.factory.new(f"rt-{role}")

    def conflist(self, doc: dict) -> None:
        with open(os.path.join(self.netconf, f"10-{doc['name']}.conflist"), "w") as f:
            json.dump(doc, f)

    def pycni(self, *args: str, cni_path: str = REF_DIR, check: bool = True, ctr: str | None = None,
              extra_env: dict | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, NETCONFPATH=self.netconf, CNI_PATH=cni_path)
        for k in ("CNI_ARGS", "CAP_ARGS", "CNI_IFNAME"):
            env.pop(k, None)
        env.update(extra_env or {})
        cmd = ["ip", "netns", "exec", self.host, sys.executable, "-m", "pycni.cli.main", *args,
               "--cache-dir", self.cache]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"pycni {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def cache_files(self) -> list[str]:
        d = os.path.join(self.cache, "results")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def allocations(self, net: str) -> list[str]:
        d = os.path.join(self.data, net)
        if not os.path.isdir(d):
            return []
        return sorted(f for f in os.listdir(d) if f not in ("lock",) and not f.startswith("last_reserved_ip"))

    def veths(self, ns: str) -> list[dict]:
        return [link for link in ipj(ns, "-d", "link", "show")
                if link.get("linkinfo", {}).get("info_kind") == "veth"]


@pytest.fixture
def world(tmp_path, netns_factory: NetnsFactory) -> World:
    return World(tmp_path, netns_factory)


_ICMP_ECHO = r"""
import os, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
ident = os.getpid() & 0xFFFF
body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"pycni"
padded = body + b"\0" * (len(body) % 2)
csum = sum(struct.unpack("!%dH" % (len(padded) // 2), padded))
csum = (csum >> 16) + (csum & 0xFFFF)
csum = ~(csum + (csum >> 16)) & 0xFFFF
s.sendto(body[:2] + struct.pack("!H", csum) + body[4:], (addr, 0))
while True:
    data, peer = s.recvfrom(2048)
    icmp = data[(data[0] & 0x0F) * 4:]
    if peer[0] == addr and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
        sys.exit(0)
"""


def ping(ns: str, addr: str) -> bool:
    """One ICMP echo from inside `ns` to `addr` (a raw socket: no ping binary needed)."""
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", _ICMP_ECHO, addr], capture_output=True,
                       timeout=30)
    return p.returncode == 0


def default_gateways(ns: str) -> set[str]:
    """Gateways of the IPv4 default route(s): separate routes or one multipath route alike."""
    gws = set()
    for r in ipj(ns, "-4", "route", "show", "default"):
        if "gateway" in r:
            gws.add(r["gateway"])
        for nh in r.get("nexthops", []):
            gws.add(nh["gateway"])
    return gws


def pycni_plugins(tmp_path, names: list[str]) -> str | None:
    """A dir with pycni's launchers for `names`, or None when one of them does not work yet."""
    from pycni.cli.install import install
    from pycni.plugins.registry import PLUGINS

    if any(n not in PLUGINS for n in names):
        return None
    d = str(tmp_path / "pycni-bin")
    install(d, names)
    for n in names:
        p = subprocess.run([os.path.join(d, n)], env={"CNI_COMMAND": "VERSION"}, input="{}",
                           capture_output=True, text=True)
        if p.returncode != 0 or "1.0.0" not in p.stdout:
            return None
    return d


def atime_moves(directory: str) -> bool:
    """Does reading a file whose atime is older than its mtime update the atime here (relatime)?"""
    probe = os.path.join(directory, ".atime-probe")
    with open(probe, "w") as f:
        f.write("x")
    st = os.stat(probe)
    os.utime(probe, ns=(st.st_mtime_ns - 10**10, st.st_mtime_ns))
    with open(probe) as f:
        f.read()
    moved = os.stat(probe).st_atime_ns > st.st_mtime_ns - 10**10
    os.unlink(probe)
    return moved


def bridge_net(w: World, name: str) -> dict:
    return {"cniVersion": "1.0.0", "name": name, "plugins": [{
        "type": "bridge", "bridge": f"rtbr{w.tag}", "isGateway": True,
        "ipam": {"type": "host-local", "dataDir": w.data, "ranges": [[{"subnet": f"10.{w.octet}.7.0/24"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}}]}


@pytest.mark.parametrize("impl", ["reference", "pycni"])
def test_bridge_and_host_local_add_check_del(world, tmp_path, impl):
    cni_path = REF_DIR
    if impl == "pycni":
        cni_path = pycni_plugins(tmp_path, ["bridge", "host-local"])
        if cni_path is None:
            pytest.skip("pycni's bridge/host-local are not installable by `pycni install-plugins` yet")
    w = world
    ctr = w.netns("c")
    w.conflist(bridge_net(w, "rtbr"))
    out = json.loads(w.pycni("add", "rtbr", f"/run/netns/{ctr}", cni_path=cni_path).stdout)
    assert out["cniVersion"] == "1.0.0"
    addr = out["ips"][0]["address"]
    gw = out["ips"][0]["gateway"]
    assert addr.startswith(f"10.{w.octet}.7.") and gw == f"10.{w.octet}.7.1"

    # the kernel agrees: the container's eth0 has the address, its host peer is enslaved to the bridge
    info = ipj(ctr, "addr", "show", "dev", "eth0")[0]["addr_info"]
    assert f"{addr.split('/')[0]}/24" in {f"{a['local']}/{a['prefixlen']}" for a in info if a["family"] == "inet"}
    bridge = f"rtbr{w.tag}"
    assert [v.get("master") for v in w.veths(w.host)] == [bridge]
    assert ping(ctr, gw)
    assert len(w.cache_files()) == 1 and w.allocations("rtbr") == [addr.split("/")[0]]
    cached = json.load(open(os.path.join(w.cache, "results", w.cache_files()[0])))
    assert cached["kind"] == "cniCacheV1" and cached["netns"] == f"/run/netns/{ctr}"

    w.pycni("check", "rtbr", f"/run/netns/{ctr}", cni_path=cni_path)
    w.pycni("del", "rtbr", f"/run/netns/{ctr}", cni_path=cni_path)
    assert w.veths(w.host) == [] and w.veths(ctr) == []
    assert ip_status(ctr, "link", "show", "eth0") != 0
    assert w.allocations("rtbr") == [] and w.cache_files() == []
    w.pycni("del", "rtbr", f"/run/netns/{ctr}", cni_path=cni_path)  # DEL again: fine


def test_reference_ptp_delegates_to_pycni_static_with_two_default_gateways(world, tmp_path):
    w = world
    ctr = w.netns("c")
    from pycni.cli.install import install

    bindir = str(tmp_path / "pycni-bin")
    static = install(bindir, ["static"])[0]
    st = os.stat(static)
    os.utime(static, ns=(st.st_mtime_ns - 10**10, st.st_mtime_ns))  # so that reading it moves atime
    gw1, gw2 = f"10.{w.octet}.1.1", f"10.{w.octet}.2.1"
    w.conflist({"cniVersion": "1.0.0", "name": "rtptp", "plugins": [{
        "type": "ptp", "ipMasq": False,
        "ipam": {"type": "static",
                 "addresses": [{"address": f"10.{w.octet}.1.2/24", "gateway": gw1},
                               {"address": f"10.{w.octet}.2.2/24", "gateway": gw2}],
                 "routes": [{"dst": "0.0.0.0/0", "gw": gw1}, {"dst": "0.0.0.0/0", "gw": gw2}]}}]})
    cni_path = f"{bindir}:{REF_DIR}"
    out = json.loads(w.pycni("add", "rtptp", f"/run/netns/{ctr}", cni_path=cni_path).stdout)
    assert [i["address"] for i in out["ips"]] == [f"10.{w.octet}.1.2/24", f"10.{w.octet}.2.2/24"]
    if atime_moves(bindir):
        assert os.stat(static).st_atime_ns > os.stat(static).st_mtime_ns, "pycni's static was not the one run"

    got = {f"{a['local']}/{a['prefixlen']}" for a in ipj(ctr, "-4", "addr", "show", "dev", "eth0")[0]["addr_info"]}
    assert got == {f"10.{w.octet}.1.2/24", f"10.{w.octet}.2.2/24"}
    assert default_gateways(ctr) == {gw1, gw2}
    host_veths = w.veths(w.host)
    assert len(host_veths) == 1
    assert ping(ctr, gw1) and ping(ctr, gw2)

    w.pycni("check", "rtptp", f"/run/netns/{ctr}", cni_path=cni_path)
    w.pycni("del", "rtptp", f"/run/netns/{ctr}", cni_path=cni_path)
    assert w.veths(w.host) == [] and w.cache_files() == []
    assert [r for r in ipj(w.host, "-4", "route", "show") if r["dst"].startswith(f"10.{w.octet}.")] == []
    assert ip_status(ctr, "link", "show", "eth0") != 0


def test_gc_dels_stale_attachments_of_real_plugins(world):
    w = world
    c1, c2 = w.netns("c1"), w.netns("c2")
    w.conflist(bridge_net(w, "rtgc"))
    w.pycni("add", "rtgc", f"/run/netns/{c1}")
    w.pycni("add", "rtgc", f"/run/netns/{c2}")
    assert len(w.veths(w.host)) == 2 and len(w.allocations("rtgc")) == 2
    from pycni.cli.runtime_cmds import container_id_for

    keep = container_id_for(f"/run/netns/{c1}")
    w.pycni("gc", "rtgc", "/ignored", "--valid-attachment", keep, "eth0")
    assert len(w.veths(w.host)) == 1 and len(w.allocations("rtgc")) == 1
    assert ip_status(c1, "link", "show", "eth0") == 0
    assert ip_status(c2, "link", "show", "eth0") != 0
    assert w.cache_files() == [f"rtgc-{keep}-eth0"]
    # cnitool's gc keeps nothing
    w.pycni("gc", "rtgc", "/ignored")
    assert w.veths(w.host) == [] and w.allocations("rtgc") == [] and w.cache_files() == []
    # STATUS on a 1.0.0 list asks no plugin and succeeds
    w.pycni("status", "rtgc", "/ignored")


def test_failed_add_leaves_a_del_able_state(world):
    """ADD fails in the second plugin: no cache is written, and a DEL (as the spec demands) cleans up."""
    w = world
    ctr = w.netns("c")
    doc = bridge_net(w, "rtfail")
    doc["plugins"].append({"type": "no-such-plugin"})
    w.conflist(doc)
    p = w.pycni("add", "rtfail", f"/run/netns/{ctr}", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('plugin type="no-such-plugin" failed (add): failed to find plugin "no-such-plugin"')
    assert w.cache_files() == [] and len(w.veths(w.host)) == 1
    p = w.pycni("del", "rtfail", f"/run/netns/{ctr}", check=False)
    assert p.returncode == 1 and "failed (delete)" in p.stderr  # the missing plugin runs first in reverse
    doc["plugins"].pop()
    w.conflist(doc)
    w.pycni("del", "rtfail", f"/run/netns/{ctr}")
    assert w.veths(w.host) == [] and w.allocations("rtfail") == []
