"""dhcp exec <-> daemon interop with the Go binary (/usr/lib/cni/dhcp, Debian 1.1.1) in both directions, plus
pycni's daemon restart, against a real dnsmasq in throwaway namespaces (tests/kernel/dhcp_net.py).

Every daemon listens on a socket in the test's own temporary directory; every DHCP packet stays inside the
test's namespaces. dnsmasq's lease file (client-id, IP) is the oracle for "leased" and "released".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dhcp_net import SERVER_V4, DhcpNet, _ip, dhcp_net, skip_reason

GO_DHCP = "/usr/lib/cni/dhcp"

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
    pytest.mark.skipif(not os.access(GO_DHCP, os.X_OK), reason=f"{GO_DHCP} is not installed"),
]

FAST_GO = ["-timeout", "2s", "-resendmax", "4s"]  # 1.1.1 has no -resendtimeout
FAST_PY = ["-timeout", "1s", "-resendmax", "2s", "-resendtimeout", "10s"]


def conf(sock: str, version: str = "1.0.0", **ipam: object) -> bytes:
    return json.dumps({"cniVersion": version, "name": "net1", "type": "macvlan",
                       "ipam": {"type": "dhcp", "daemonSocketPath": sock, **ipam}}).encode()


def run_exec(exe: str, command: str, cid: str, netns: str, stdin: bytes) -> tuple[int, dict]:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/opt/cni/bin", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    p = subprocess.run([exe], input=stdin, env=env, capture_output=True, timeout=90, check=False)
    out = p.stdout.decode()
    return p.returncode, (json.loads(out) if out.strip() else {})


def client_id_hex(cid: str) -> str:
    """How dnsmasq's lease file shows HEAD's client-id: 00 + cid/net1/eth0, colon-separated hex."""
    return ":".join(f"{b:02x}" for b in b"\x00" + f"{cid}/net1/eth0".encode())


@contextmanager
def daemon(cmd: list[str]) -> Iterator[subprocess.Popen]:
    """A daemon process, always stopped (SIGTERM, then SIGKILL); its stderr is kept for assertion messages."""
    with tempfile.TemporaryFile() as log:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        p.log = log  # type: ignore[attr-defined]
        try:
            yield p
        finally:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def daemon_log(p: subprocess.Popen) -> str:
    f = p.log  # type: ignore[attr-defined]
    f.seek(0)
    return f.read().decode(errors="replace")


def wait_socket(path: str, p: subprocess.Popen, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        assert p.poll() is None, f"daemon exited {p.returncode}: {daemon_log(p)}"
        assert time.monotonic() < end, "daemon socket did not appear"
        time.sleep(0.05)


def wait_for(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return bool(pred())


def leased(net: DhcpNet, cid: str) -> list[str]:
    want = client_id_hex(cid)
    return [le.ip for le in net.leases() if le.client_id == want]


@pytest.fixture
def tmpdir_short() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="pycni-dhcp-i-")  # short: a unix socket path is limited to 107 bytes
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def py_daemon_cmd(pycni_dir: str, sock: str, state: str) -> list[str]:
    return [os.path.join(pycni_dir, "dhcp"), "daemon", "-socketpath", sock, "-statedir", state, *FAST_PY]


@pytest.mark.parametrize("version", ["1.0.0", "0.3.1"])
def test_go_exec_drives_pycni_daemon(pycni_dir: str, tmpdir_short: str, version: str) -> None:
    sock = os.path.join(tmpdir_short, "py.sock")
    with dhcp_net(["veth"]) as net, daemon(py_daemon_cmd(pycni_dir, sock, tmpdir_short + "/st")) as d:
        c = net.containers[0]
        wait_socket(sock, d)
        rc, out = run_exec(GO_DHCP, "ADD", "goexec1", c.netns, conf(sock, version))
        assert rc == 0, (out, daemon_log(d))
        assert out["cniVersion"] == version
        ip = out["ips"][0]["address"]
        assert ip.startswith("192.168.77.") and ip.endswith("/24")
        assert out["ips"][0]["gateway"] == SERVER_V4
        assert {"dst": "0.0.0.0/0", "gw": SERVER_V4} in out["routes"]
        assert leased(net, "goexec1") == [ip.split("/")[0]]
        if version == "1.0.0":
            rc, out2 = run_exec(GO_DHCP, "CHECK", "goexec1", c.netns, conf(sock, version))
            assert rc == 0, out2
            assert daemon_log(d).count("acquiring lease") == 1  # CHECK reused the lease
        rc, out = run_exec(GO_DHCP, "DEL", "goexec1", c.netns, conf(sock, version))
        assert rc == 0, out
        assert wait_for(lambda: leased(net, "goexec1") == [], 10), net.leases()  # DHCPRELEASE reached dnsmasq
        # DEL of an unknown lease succeeds, as upstream
        assert run_exec(GO_DHCP, "DEL", "goexec1", c.netns, conf(sock, version))[0] == 0


def test_go_exec_sees_pycni_daemon_errors(pycni_dir: str, tmpdir_short: str) -> None:
    sock = os.path.join(tmpdir_short, "py.sock")
    with dhcp_net(["veth"], start=True) as net, daemon(py_daemon_cmd(pycni_dir, sock, tmpdir_short + "/st")) as d:
        c = net.containers[0]
        wait_socket(sock, d)
        rc, out = run_exec(GO_DHCP, "ADD", "goexec2", c.netns, conf(sock, request=[{"option": "bogus"}]))
        assert rc == 1
        assert out == {"code": 999, "msg": 'error calling DHCP.Allocate: Can not parse option "bogus": Can not '
                                           'parse option: strconv.ParseUint: parsing "bogus": invalid syntax'}
        rc, out = run_exec(GO_DHCP, "ADD", "goexec2", "/run/netns/pycni-no-such-ns", conf(sock))
        assert rc == 1 and out["msg"].startswith("error calling DHCP.Allocate: "), out


@pytest.mark.parametrize("version", ["1.0.0", "0.4.0"])
def test_pycni_exec_drives_go_daemon(pycni_dir: str, tmpdir_short: str, version: str) -> None:
    sock = os.path.join(tmpdir_short, "go.sock")
    exe = os.path.join(pycni_dir, "dhcp")
    with dhcp_net(["veth"]) as net, daemon([GO_DHCP, "daemon", "-socketpath", sock, *FAST_GO]) as d:
        c = net.containers[0]
        wait_socket(sock, d)
        rc, out = run_exec(exe, "ADD", "pyexec1", c.netns, conf(sock, version))
        assert rc == 0, (out, daemon_log(d))
        assert out["cniVersion"] == version
        ip = out["ips"][0]["address"]
        assert ip.startswith("192.168.77.") and ip.endswith("/24")
        assert out["ips"][0]["gateway"] == SERVER_V4
        assert {"dst": "0.0.0.0/0", "gw": SERVER_V4} in out["routes"]
        assert leased(net, "pyexec1") == [ip.split("/")[0]]
        rc, out = run_exec(exe, "CHECK", "pyexec1", c.netns, conf(sock, version))
        assert rc == 0, out
        rc, out = run_exec(exe, "DEL", "pyexec1", c.netns, conf(sock, version))
        assert rc == 0, out
        assert wait_for(lambda: leased(net, "pyexec1") == [], 10), net.leases()


def test_pycni_exec_without_daemon_names_the_socket(pycni_dir: str, tmpdir_short: str) -> None:
    sock = os.path.join(tmpdir_short, "none.sock")
    rc, out = run_exec(os.path.join(pycni_dir, "dhcp"), "ADD", "c9", "/proc/self/ns/net", conf(sock))
    assert rc == 1
    assert out == {"code": 999, "msg": f"error dialing DHCP daemon: dial unix {sock}: connect: no such file or "
                                       "directory"}


def test_pycni_daemon_restart_keeps_renewing_and_releases(pycni_dir: str, tmpdir_short: str) -> None:
    """Upstream loses its leases on a restart; pycni re-adopts them: renewals go on, DEL still releases."""
    sock = os.path.join(tmpdir_short, "py.sock")
    state = tmpdir_short + "/st"
    exe = os.path.join(pycni_dir, "dhcp")
    with dhcp_net(["veth", "veth"], t1=3, t2=6) as net:
        c, gone = net.containers
        with daemon(py_daemon_cmd(pycni_dir, sock, state)) as d:
            wait_socket(sock, d)
            rc, out = run_exec(exe, "ADD", "keep", c.netns, conf(sock))
            assert rc == 0, (out, daemon_log(d))
            rc, out2 = run_exec(exe, "ADD", "gone", gone.netns, conf(sock))
            assert rc == 0, (out2, daemon_log(d))
            _ip(c.ns, "addr", "add", out["ips"][0]["address"], "dev", c.ifname)  # as the main plugin would
        assert len(os.listdir(state)) == 2
        ip = out["ips"][0]["address"].split("/")[0]
        _ip(gone.ns, "link", "del", gone.ifname)
        subprocess.run(["ip", "netns", "del", gone.ns], check=True)  # its container is gone meanwhile
        mark = len(net.log())
        with daemon(py_daemon_cmd(pycni_dir, sock, state)) as d:
            wait_socket(sock, d)  # bound before re-adoption; calls queue until it is done
            assert wait_for(lambda: "gone/net1/eth0: netns" in daemon_log(d)
                            and "keep/net1/eth0: lease adopted" in daemon_log(d), 15), daemon_log(d)
            assert len(os.listdir(state)) == 1
            # renewals continue after the restart (T1 = 3 s)
            assert wait_for(lambda: "DHCPREQUEST" in net.log()[mark:], 15), net.log()[mark:]
            rc, out = run_exec(exe, "DEL", "keep", c.netns, conf(sock))
            assert rc == 0, out
            assert wait_for(lambda: ip not in [le.ip for le in net.leases()], 10), net.leases()
            assert os.listdir(state) == []


def test_pycni_extensions_ipv6_and_multipath_routers(pycni_dir: str, tmpdir_short: str) -> None:
    """pycni-only keys, through exec and daemon: `ipv6` adds the DHCPv6 address, `multipathRouters` one default
    route per option-3 router (the main plugin's configure_iface makes them one multipath route)."""
    sock = os.path.join(tmpdir_short, "py.sock")
    exe = os.path.join(pycni_dir, "dhcp")
    with dhcp_net(["veth"], ipv6=True, routers=[SERVER_V4, "192.168.77.2"]) as net, \
            daemon(py_daemon_cmd(pycni_dir, sock, tmpdir_short + "/st")) as d:
        c = net.containers[0]
        wait_socket(sock, d)
        rc, out = run_exec(exe, "ADD", "ext1", c.netns, conf(sock, ipv6=True, multipathRouters=True))
        assert rc == 0, (out, daemon_log(d))
        addrs = [i["address"] for i in out["ips"]]
        assert addrs[0].startswith("192.168.77.") and addrs[1].startswith("fd77::"), addrs
        defaults = [r["gw"] for r in out["routes"] if r["dst"] == "0.0.0.0/0"]
        assert defaults == [SERVER_V4, "192.168.77.2"], out["routes"]
        rc, out = run_exec(exe, "DEL", "ext1", c.netns, conf(sock))
        assert rc == 0, out
        assert wait_for(lambda: leased(net, "ext1") == [], 10), net.leases()
