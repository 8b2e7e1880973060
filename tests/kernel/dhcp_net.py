"""A throwaway DHCP network for kernel tests: dnsmasq in its own netns, a "host" netns with an uplink, and container
namespaces attached by macvlan (on the host uplink) or by veth (on the server's bridge). No tests here.

Everything lives in uniquely named namespaces (pycni-d-<hex>-*); dnsmasq is always killed before they are deleted,
even when the body fails. Nothing touches the root netns or any real network.

    with dhcp_net(lease_time="2m", t1=4, t2=8) as net:
        c = net.containers[0]            # .netns (path), .ns (name), .ifname "eth0", .kind, .mac
        ... acquire a lease in c.netns on c.ifname ...
        net.leases()                     # dnsmasq's lease file, parsed
        net.log()                        # dnsmasq's --log-dhcp output so far
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SUBNET = "192.168.77"
SERVER_V4 = f"{SUBNET}.1"
SERVER_V6 = "fd77::1"
PREFIX6 = "fd77::/64"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(list(args), check=False, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def _ip(ns: str, *args: str, check: bool = True) -> str:
    return _run("ip", "-n", ns, *args, check=check).stdout


def skip_reason() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "iproute2 `ip` is not installed"
    if not os.access(DNSMASQ, os.X_OK):
        return "dnsmasq is not installed"
    return None


@dataclass
class Container:
    ns: str  # namespace name
    netns: str  # its path, /run/netns/<ns>
    ifname: str
    kind: str  # "macvlan" or "veth"
    mac: str


@dataclass
class Lease:
    """One line of dnsmasq's lease file (v4: hwaddr is the MAC; v6: hwaddr is the IAID)."""

    expiry: int
    hwaddr: str
    ip: str
    hostname: str
    client_id: str


@dataclass
class DhcpNet:
    tag: str
    tmp: str
    server_ns: str
    host_ns: str
    lease_file: str
    log_file: str
    dnsmasq_args: list[str]
    server_v4: str = SERVER_V4
    server_v6: str = SERVER_V6
    bridge: str = "br0"
    uplink: str = "up0"  # in host_ns; macvlan containers hang off it
    containers: list[Container] = field(default_factory=list)
    _proc: subprocess.Popen | None = None
    _namespaces: list[str] = field(default_factory=list)
    _n: int = 0

    # -- namespaces ------------------------------------------------------------------------------

    def new_ns(self, suffix: str) -> str:
        """One more namespace (pycni-d-<tag>-<suffix>, lo up), deleted with the rest; for extra routers etc."""
        return self._new_ns(suffix)

    def _new_ns(self, suffix: str) -> str:
        name = f"pycni-d-{self.tag}-{suffix}"
        _run("ip", "netns", "add", name)
        self._namespaces.append(name)
        _ip(name, "link", "set", "lo", "up")
        return name

    def add_container(self, kind: str = "veth", ifname: str = "eth0", up: bool = False) -> Container:
        """A new container netns whose `ifname` reaches the server: kind "macvlan" (child of the host uplink,
        bridge mode) or "veth" (peer on the server's bridge). Left DOWN unless `up`, like a fresh CNI link."""
        self._n += 1
        ns = self._new_ns(f"c{self._n}")
        if kind == "macvlan":
            tmpname = f"mv{self._n}"
            _ip(self.host_ns, "link", "add", tmpname, "link", self.uplink, "type", "macvlan", "mode", "bridge")
            _ip(self.host_ns, "link", "set", tmpname, "netns", ns)
            _ip(ns, "link", "set", tmpname, "name", ifname)
        elif kind == "veth":
            peer = f"s-c{self._n}"
            _ip(self.server_ns, "link", "add", peer, "type", "veth", "peer", "name", ifname, "netns", ns)
            _ip(self.server_ns, "link", "set", peer, "master", self.bridge, "up")
        else:
            raise ValueError(f"unknown container kind {kind!r}")
        if up:
            _ip(ns, "link", "set", ifname, "up")
        mac = _run("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()
        c = Container(ns=ns, netns=f"/run/netns/{ns}", ifname=ifname, kind=kind, mac=mac)
        self.containers.append(c)
        return c

    # -- dnsmasq ---------------------------------------------------------------------------------

    def start_server(self, timeout: float = 10.0) -> None:
        """Start dnsmasq (again) in the server netns; returns once it logged its DHCP setup."""
        if self._proc is not None and self._proc.poll() is None:
            return
        mark = os.path.getsize(self.log_file) if os.path.exists(self.log_file) else 0
        self._proc = subprocess.Popen(["ip", "netns", "exec", self.server_ns, DNSMASQ, *self.dnsmasq_args],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise AssertionError(f"dnsmasq exited {self._proc.returncode}: {err.strip()}")
            if "DHCP, " in self.log()[mark:]:
                return
            time.sleep(0.05)
        raise AssertionError(f"dnsmasq did not start within {timeout:.0f}s: {self.log()[mark:]}")

    def stop_server(self) -> None:
        """Stop dnsmasq (SIGTERM, then SIGKILL); the lease file stays."""
        p, self._proc = self._proc, None
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if p.stderr:
            p.stderr.close()

    def server_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- observations ----------------------------------------------------------------------------

    def log(self) -> str:
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def leases(self) -> list[Lease]:
        """dnsmasq's lease file (v4 and v6 lines; the `duid` line is skipped)."""
        try:
            with open(self.lease_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            parts = line.split()
            if len(parts) >= 5 and parts[0] != "duid":
                out.append(Lease(int(parts[0]), parts[1], parts[2], parts[3], parts[4]))
        return out

    def lease_for(self, ip: str) -> Lease | None:
        return next((le for le in self.leases() if le.ip == ip), None)


def _cleanup(net: DhcpNet) -> None:
    try:
        net.stop_server()
    finally:
        for name in reversed(net._namespaces):
            _run("ip", "netns", "del", name, check=False)
        shutil.rmtree(net.tmp, ignore_errors=True)


@contextmanager
def dhcp_net(containers: Sequence[str] = ("macvlan", "veth"), *, lease_time: str = "2m",
             t1: int | None = None, t2: int | None = None,
             routers: Sequence[str] | None = (SERVER_V4,),
             classless: Sequence[tuple[str, str]] | None = None, force_classless: bool = False,
             static_routes: Sequence[tuple[str, str]] | None = None,
             pool: tuple[int, int] = (50, 99), ipv6: bool = False,
             no_ping: bool = True, extra_args: Sequence[str] = (), start: bool = True) -> Iterator[DhcpNet]:
    """Namespaces + dnsmasq; everything removed on exit, even on failure.

    containers: kinds of the initial containers ("macvlan" / "veth"); more with net.add_container().
    lease_time: dnsmasq's lease time (its minimum is 2m); t1/t2: options 58/59 in seconds (short renewals).
    routers: option 3 (empty: no option 3 sent; None: dnsmasq's default, its own address).
    classless: option 121 as (dst CIDR, gw) pairs, sent only when the client asks unless force_classless.
    static_routes: option 33 as (dst IP, gw) pairs. pool: the last octets of the v4 range.
    ipv6: also serve DHCPv6 (fd77::100-1ff) with RA on the bridge.
    no_ping: skip dnsmasq's ping check of an address before offering it (it delays the first OFFER by ~3 s).
    """
    tag = os.urandom(4).hex()
    tmp = tempfile.mkdtemp(prefix=f"pycni-dhcp-{tag}-")
    os.chmod(tmp, 0o755)
    lease_file, log_file = os.path.join(tmp, "leases"), os.path.join(tmp, "dnsmasq.log")
    args = ["--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--user=root", "--group=root",
            "--interface=br0", "--bind-interfaces", "--except-interface=lo", "--dhcp-authoritative",
            f"--dhcp-range={SUBNET}.{pool[0]},{SUBNET}.{pool[1]},255.255.255.0,{lease_time}",
            f"--dhcp-leasefile={lease_file}", f"--log-facility={log_file}", "--log-dhcp",
            f"--pid-file={os.path.join(tmp, 'pid')}"]
    if no_ping:
        args.append("--no-ping")
    if routers is not None:
        # an empty list sends no option 3 at all (dnsmasq: an option with no value is suppressed)
        args.append("--dhcp-option=option:router," + ",".join(routers) if routers else "--dhcp-option=3")
    if classless:
        kw = "--dhcp-option-force" if force_classless else "--dhcp-option"
        args.append(f"{kw}=121," + ",".join(f"{d},{g}" for d, g in classless))
    if static_routes:
        args.append("--dhcp-option=33," + ",".join(f"{d},{g}" for d, g in static_routes))
    if t1 is not None:
        args.append(f"--dhcp-option=option:T1,{t1}")
    if t2 is not None:
        args.append(f"--dhcp-option=option:T2,{t2}")
    if ipv6:
        args += [f"--dhcp-range=fd77::100,fd77::1ff,64,{lease_time}", "--enable-ra"]
    args += list(extra_args)
    net = DhcpNet(tag=tag, tmp=tmp, server_ns="", host_ns="", lease_file=lease_file, log_file=log_file,
                  dnsmasq_args=args)
    try:
        net.server_ns = s = net._new_ns("s")
        net.host_ns = h = net._new_ns("h")
        _ip(s, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
        _ip(s, "link", "set", "br0", "up")
        _ip(s, "addr", "add", f"{SERVER_V4}/24", "dev", "br0")
        if ipv6:
            _ip(s, "addr", "add", f"{SERVER_V6}/64", "dev", "br0", "nodad")
        _ip(s, "link", "add", "s-up", "type", "veth", "peer", "name", net.uplink, "netns", h)
        _ip(s, "link", "set", "s-up", "master", "br0", "up")
        _ip(h, "link", "set", net.uplink, "up")
        for kind in containers:
            net.add_container(kind)
        if start:
            net.start_server()
        yield net
    finally:
        _cleanup(net)
