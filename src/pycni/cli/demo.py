"""`pycni demo`: ECMP through pycni's own plugins, end to end, in throwaway namespaces.

Builds a "host" namespace with a bridge, two gateway namespaces on that bridge (.1 and .254, and
two IPv6 gateways), and a container namespace attached with pycni's `bridge` plugin and `static`
IPAM whose routes name both gateways for the default route. It prints the CNI result and the
kernel's multipath routes (as iproute2 shows them), sends UDP flows from the container and
counts, in each gateway, which flows arrived. Everything is removed at the end unless --keep.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from pycni import skel
from pycni.cli.install import install
from pycni.linux import sysctl
from pycni.netlink.netns import netns
from pycni.plugins.main import bridge
from pycni.spec import gojson
from pycni.spec.result import to_json_obj

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DST4, DST6 = "198.51.100.7", "2001:db8:ffff::7"
PORT = 9999


def _ip(*args: str, ns: str | None = None) -> str:
    argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def demo_config(bridge: str) -> dict[str, Any]:
    """The embedded network: bridge + static IPAM with two gateways for each default route."""
    return {
        "cniVersion": "1.1.0",
        "name": "pycni-demo",
        "type": "bridge",
        "bridge": bridge,
        "dad": "skip",
        "ipam": {
            "type": "static",
            "addresses": [{"address": "10.77.0.10/24"}, {"address": "fd77::10/64"}],
            "routes": [
                {"dst": "0.0.0.0/0", "gw": "10.77.0.1"},
                {"dst": "0.0.0.0/0", "gw": "10.77.0.254"},
                {"dst": "::/0", "gw": "fd77::1"},
                {"dst": "::/0", "gw": "fd77::fe"},
            ],
        },
    }


class Topology:
    """The namespaces and links of the demo; remove() undoes everything it made."""

    def __init__(self) -> None:
        tag = os.urandom(3).hex()
        self.host, self.cont = f"pycni-demo-{tag}-host", f"pycni-demo-{tag}-c1"
        self.gws = [f"pycni-demo-{tag}-gw1", f"pycni-demo-{tag}-gw2"]
        self.bridge = f"pdbr{tag}"
        self.made: list[str] = []

    def build(self) -> None:
        for ns in (self.host, self.cont, *self.gws):
            _ip("netns", "add", ns)
            self.made.append(ns)
        _ip("link", "add", self.bridge, "type", "bridge", ns=self.host)
        _ip("link", "set", self.bridge, "up", ns=self.host)
        gw_addrs = [("10.77.0.1/24", "fd77::1/64"), ("10.77.0.254/24", "fd77::fe/64")]
        for i, (ns, (a4, a6)) in enumerate(zip(self.gws, gw_addrs), 1):
            port = f"pdgw{i}p"
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, ns=self.host)
            _ip("link", "set", port, "master", self.bridge, "up", ns=self.host)
            _ip("addr", "add", a4, "dev", "eth0", ns=ns)
            _ip("addr", "add", a6, "dev", "eth0", "nodad", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            _ip("link", "set", "lo", "up", ns=ns)
            # The flows' destination is local to every gateway, so each one can count what it got.
            _ip("addr", "add", f"{DST4}/32", "dev", "lo", ns=ns)
            _ip("addr", "add", f"{DST6}/128", "dev", "lo", ns=ns)
        _sysctl(self.cont, "net/ipv4/fib_multipath_hash_policy", "1")
        _sysctl(self.cont, "net/ipv6/fib_multipath_hash_policy", "1")

    def remove(self) -> None:
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.made.clear()


def _sysctl(ns: str, name: str, value: str) -> None:
    with netns(f"/var/run/netns/{ns}"):
        sysctl.set(name, value)


def _socket_in(ns: str, family: int) -> socket.socket:
    # A socket belongs to the namespace it was created in, whatever the thread does afterwards.

    with netns(f"/var/run/netns/{ns}"):
        return socket.socket(family, socket.SOCK_DGRAM)


def run_plugin(command: str, topo: Topology, conf: dict[str, Any], plugin_dir: str) -> Any:
    """Run pycni's bridge plugin in-process inside the demo's host namespace."""
    env = {
        "CNI_COMMAND": command, "CNI_CONTAINERID": "pycni-demo", "CNI_NETNS": f"/var/run/netns/{topo.cont}",
        "CNI_IFNAME": "eth0", "CNI_PATH": plugin_dir, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin"),
    }
    with netns(f"/var/run/netns/{topo.host}"):
        outcome = skel.run(bridge.PLUGIN, env, gojson.dumps(conf).encode())
    if outcome.error is not None:
        raise RuntimeError(f"{command} failed: {gojson.dumps(outcome.error.to_json(), None)}")
    return outcome


def send_flows(topo: Topology, family: int, dst: str, flows: int) -> list[int]:
    """Send one datagram per flow (distinct source ports); return how many flows each gateway saw."""
    listeners = []
    for ns in topo.gws:
        s = _socket_in(ns, family)
        s.bind((dst, PORT))
        s.setblocking(False)
        listeners.append(s)
    senders = [_socket_in(topo.cont, family) for _ in range(flows)]
    try:
        # Warm-up so both gateways' neighbour entries exist before the counted flows.
        for s in senders[:8]:
            s.sendto(b"warm", (dst, PORT))
        time.sleep(0.3)
        for ls in listeners:
            _drain(ls)
        for s in senders:
            s.sendto(b"flow", (dst, PORT))
            time.sleep(0.001)
        time.sleep(0.3)
        return [len(_drain(ls)) for ls in listeners]
    finally:
        for s in senders + listeners:
            s.close()


def _drain(s: socket.socket) -> set[int]:
    ports: set[int] = set()
    while True:
        try:
            data, addr = s.recvfrom(64)
        except BlockingIOError:
            return ports
        if data == b"flow":
            ports.add(addr[1])


def _table(out: Any, label: str, family: int, counts: list[int]) -> None:
    total = sum(counts)
    for name, n in zip(("gw1 (.1 / ::1)", "gw2 (.254 / ::fe)"), counts):
        pct = 100 * n / total if total else 0
        print(f"{label} {name:18} {n:3d}/{total:<3d} {pct:5.1f}%  {_bar(n, total)}", file=out)


def _bar(n: int, total: int, width: int = 40) -> str:
    return "#" * round(width * n / total) if total else ""


def main(keep: bool = False, flows: int = 64, out: Any = None) -> int:
    out = out or sys.stdout
    if os.geteuid() != 0:
        print("pycni demo needs root: it creates network namespaces (try: sudo pycni demo)", file=sys.stderr)
        return 1
    if shutil.which("ip") is None:
        print("pycni demo needs iproute2's `ip` command (apt-get install iproute2)", file=sys.stderr)
        return 1

    topo = Topology()
    plugin_dir = tempfile.mkdtemp(prefix="pycni-demo-plugins-")
    try:
        install(plugin_dir)
        topo.build()
        conf = demo_config(topo.bridge)
        print("== network config (bridge + static IPAM, two gateways per default route)", file=out)
        print(gojson.dumps(conf), file=out)
        outcome = run_plugin("ADD", topo, conf, plugin_dir)
        print("\n== ADD result", file=out)
        print(gojson.dumps(to_json_obj(outcome.result)), file=out)
        print(f"\n== kernel routes in the container (ip -n {topo.cont} route)", file=out)
        print(_ip("-4", "route", "show", "default", ns=topo.cont).rstrip(), file=out)
        print(_ip("-6", "route", "show", "default", ns=topo.cont).rstrip(), file=out)
        print(f"\n== {flows} UDP flows (distinct source ports) from the container", file=out)
        for label, fam, dst in (("IPv4", socket.AF_INET, DST4), ("IPv6", socket.AF_INET6, DST6)):
            _table(out, label, fam, send_flows(topo, fam, dst, flows))
        # What upstream's ConfigureIface programs instead: one route per gateway, each added with
        # NLM_F_CREATE only (`ip route prepend`). IPv6 merges them; IPv4 keeps the last one in front.
        _ip("-4", "route", "del", "default", ns=topo.cont)
        for gw in ("10.77.0.1", "10.77.0.254"):
            _ip("-4", "route", "prepend", "default", "via", gw, "dev", "eth0", ns=topo.cont)
        print("\n== the same IPv4 flows with upstream's route programming (one route per gateway)", file=out)
        print(_ip("-4", "route", "show", "default", ns=topo.cont).rstrip(), file=out)
        _table(out, "IPv4", socket.AF_INET, send_flows(topo, socket.AF_INET, DST4, flows))
        run_plugin("DEL", topo, conf, plugin_dir)
        print("\n== DEL done", file=out)
        if keep:
            print(f"kept for inspection: namespaces {topo.host} {topo.cont} {' '.join(topo.gws)}", file=out)
            topo.made.clear()
        return 0
    except Exception as exc:  # a demo reports; it does not dump a traceback at a new user
        print(f"pycni demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            topo.remove()
        shutil.rmtree(plugin_dir, ignore_errors=True)
