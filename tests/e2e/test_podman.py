"""podman (a real libcni client) running containers on networks served by CNI plugins.

The same scenarios run twice: with the reference binaries (/usr/lib/cni, proving the set-up) and
with only the plugins written by `pycni install-plugins` (skipped, with the reason, while a
plugin a scenario needs is not implemented yet):
  * bridge + host-local: two containers ping each other and the gateway;
  * ptp + static with two default gateways: the container's default route names both;
  * podman's default-style chain bridge (host-local, isGateway, ipMasq) + portmap + firewall + tuning:
    a container publishes a port (`podman run -p`), a TCP client on the namespace's host side gets the
    container's reply through the host port, on the bridge's address and on 127.0.0.1.
After removal no veth, address, route, rule, IP allocation, cache file or netns may remain, nor any
iptables/nftables rule or chain of the container (the chains shared by all containers stay, as upstream).

Isolation: podman runs inside a "holder" process that sits in a fresh network namespace
(pycni-pm-<random>, so bridges and host veths never reach the real host) and in a private mount
namespace where /var/lib/cni (podman 4's libcni cache, not configurable), /var/lib/containers,
/run/netns and /dev/shm are private. Storage, run root, tmp dir, events log, network configs and
IPAM data live under a temporary directory. Everything is removed at the end.
Needs root and podman 4.x with the CNI backend: `bash tests/e2e/podman_setup.sh` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import pytest

REF = "/usr/lib/cni"
BUSYBOX = "/bin/busybox"
IMAGE = "localhost/pycni-busybox:latest"
APPLETS = ["sh", "ip", "ping", "sleep", "cat", "ls", "true", "echo"]


def _podman_major() -> int | None:
    try:
        out = subprocess.run(["podman", "--version"], capture_output=True, text=True, timeout=30).stdout
        return int(out.split()[-1].split(".")[0])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "podman e2e tests need root"
    if shutil.which("podman") is None:
        return "podman is not installed (run tests/e2e/podman_setup.sh)"
    major = _podman_major()
    if major is None or major >= 5:
        return f"podman {major} has no CNI network backend (4.x needed)"
    for tool in ("runc", "nsenter", "unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run tests/e2e/podman_setup.sh)"
    if not os.path.isfile(BUSYBOX):
        return f"{BUSYBOX} missing (Debian package busybox-static)"
    with open(BUSYBOX, "rb") as f:
        if b"ld-linux" in f.read(8192):
            return f"{BUSYBOX} is dynamically linked; the image needs busybox-static"
    for p in ("bridge", "host-local", "ptp", "static"):
        if not os.path.isfile(os.path.join(REF, p)):
            return f"reference plugin {REF}/{p} missing (containernetworking-plugins)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def ip(ns: str | None, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p


def ipj(ns: str | None, *args: str) -> list[dict]:
    out = ip(ns, "-j", *args).stdout.strip()
    return json.loads(out) if out else []


class Podman:
    """The private podman world: a holder process, config files and the `run` helper."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tag = os.urandom(3).hex()
        self.octet = int(self.tag[:2], 16) % 200 + 20
        self.hostns = f"pycni-pm-{self.tag}"
        self.cni_cache = os.path.join(base, "cni-cache")
        self.created_dirs: list[str] = []
        self.holder: subprocess.Popen | None = None
        self.confs: dict[str, str] = {}
        self.netdirs: dict[str, str] = {}
        self.ipam = os.path.join(base, "ipam")
        for d in ("storage", "runroot", "tmpdir", "cni-cache", "var-lib-containers", "ipam", "imgtmp"):
            os.makedirs(os.path.join(base, d), exist_ok=True)

    # --- set-up / tear-down -------------------------------------------------------------------

    def start(self) -> None:
        ip(None, "netns", "add", self.hostns)
        ip(self.hostns, "link", "set", "lo", "up")
        for d in ("/var/lib/cni", "/var/lib/containers", "/run/netns"):
            if not os.path.isdir(d):
                os.makedirs(d)
                self.created_dirs.append(d)
        script = (
            "set -e; "
            f"mount --bind {self.cni_cache} /var/lib/cni; "
            f"mount --bind {self.base}/var-lib-containers /var/lib/containers; "
            "mount -t tmpfs tmpfs /run/netns; mount -t tmpfs tmpfs /dev/shm; "
            "echo ready; exec sleep 86400"
        )
        self.holder = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.hostns}", "unshare", "--mount", "--propagation", "slave",
             "sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline() if self.holder.stdout else ""
        if line.strip() != "ready":
            err = self.holder.stderr.read() if self.holder.stderr else ""
            raise RuntimeError(f"podman holder did not start: {err.strip()}")
        with open(os.path.join(self.base, "storage.conf"), "w") as f:
            f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{self.base}/storage"\nrunroot = "{self.base}/runroot"\n')

    def configure(self, impl: str, plugin_dir: str) -> None:
        netdir = os.path.join(self.base, f"net.d-{impl}")
        os.makedirs(netdir, exist_ok=True)
        conf = os.path.join(self.base, f"containers-{impl}.conf")
        with open(conf, "w") as f:
            f.write(
                "[containers]\n"
                'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                "[engine]\n"
                'runtime = "runc"\n'
                'cgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
                f'events_logfile_path = "{self.base}/events.log"\n'
                f'tmp_dir = "{self.base}/tmpdir"\n'
                f'image_copy_tmp_dir = "{self.base}/imgtmp"\n'
                "[network]\n"
                'network_backend = "cni"\n'
                f'cni_plugin_dirs = ["{plugin_dir}"]\n'
                f'network_config_dir = "{netdir}"\n'
            )
        self.confs[impl] = conf
        self.netdirs[impl] = netdir

    def podman(self, impl: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        assert self.holder is not None
        env = dict(os.environ, CONTAINERS_CONF=self.confs[impl],
                   CONTAINERS_STORAGE_CONF=os.path.join(self.base, "storage.conf"), TMPDIR=f"{self.base}/imgtmp")
        env.pop("CNI_ARGS", None)
        cmd = ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "podman", "--log-level=error", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def in_holder(self, *args: str) -> subprocess.CompletedProcess:
        assert self.holder is not None
        return subprocess.run(["nsenter", "-t", str(self.holder.pid), "-m", "-n", *args],
                              capture_output=True, text=True, timeout=60)

    def build_image(self) -> None:
        root = os.path.join(self.base, "image")
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(root, "bin", a))
        tar = os.path.join(self.base, "image.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
        self.podman("reference", "import", "--change", "CMD=/bin/sh", tar, IMAGE)

    def stop(self) -> None:
        if self.holder is not None:
            if self.confs:
                impl = next(iter(self.confs))
                self.podman(impl, "rm", "--all", "--force", "--time", "0", check=False)
            self.holder.kill()
            self.holder.wait(timeout=30)
            self.holder = None
        self._end_leftover_processes()
        subprocess.run(["ip", "netns", "del", self.hostns], capture_output=True)
        for d in reversed(self.created_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass

    def _our_processes(self) -> list[int]:
        """Live processes started for this world (conmon, containers): their command line names our base."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if self.base.encode() in cmdline:
                pids.append(int(entry))
        return pids

    def _end_leftover_processes(self) -> None:
        deadline = time.monotonic() + 5
        while self._our_processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self._our_processes():
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    # --- what is left behind ------------------------------------------------------------------------

    def host_veths(self) -> list[str]:
        return [link["ifname"] for link in ipj(self.hostns, "-d", "link", "show")
                if link.get("linkinfo", {}).get("info_kind") == "veth"]

    def cache_files(self) -> list[str]:
        d = os.path.join(self.cni_cache, "results")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def allocations(self, net: str) -> list[str]:
        d = os.path.join(self.ipam, net)
        if not os.path.isdir(d):
            return []
        return sorted(f for f in os.listdir(d) if f != "lock" and not f.startswith("last_reserved_ip"))

    def netns_files(self) -> list[str]:
        return self.in_holder("ls", "-A", "/run/netns").stdout.split()

    def host_addrs(self, prefix: str) -> list[str]:
        return [a["local"] for link in ipj(self.hostns, "addr", "show") for a in link.get("addr_info", [])
                if a["local"].startswith(prefix)]

    def host_routes(self, prefix: str) -> list[dict]:
        return [r for r in ipj(self.hostns, "-4", "route", "show", "table", "all")
                if r.get("dst", "").startswith(prefix)]

    def rules(self) -> list[dict]:
        return ipj(self.hostns, "rule", "show") + ipj(self.hostns, "-6", "rule", "show")


@pytest.fixture(scope="module")
def pm(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("podman"))
    w = Podman(base)
    try:
        w.start()
        w.configure("reference", REF)
        pdir = os.path.join(base, "pycni-bin")
        from pycni.cli.install import install

        install(pdir)
        w.configure("pycni", pdir)
        w.pycni_dir = pdir  # type: ignore[attr-defined]
        w.build_image()
        w.baseline_rules = w.rules()  # type: ignore[attr-defined]
        yield w
    finally:
        w.stop()
        shutil.rmtree(base, ignore_errors=True)


def pycni_missing(pm: Podman, names: list[str]) -> str | None:
    """Why pycni's launchers for `names` cannot serve yet (None when they all answer VERSION)."""
    for n in names:
        path = os.path.join(pm.pycni_dir, n)  # type: ignore[attr-defined]
        if not os.path.isfile(path):
            return f"`pycni install-plugins` does not install {n} yet"
        p = subprocess.run([path], env={"CNI_COMMAND": "VERSION"}, input="", capture_output=True, text=True)
        if p.returncode != 0 or "1.0.0" not in p.stdout:
            return f"pycni's {n} is not implemented yet ({(p.stdout + p.stderr).strip()[:120]})"
    return None


def want(pm: Podman, impl: str, names: list[str]) -> None:
    if impl == "pycni":
        reason = pycni_missing(pm, names)
        if reason:
            pytest.skip(reason)


def write_net(pm: Podman, impl: str, doc: dict) -> None:
    with open(os.path.join(pm.netdirs[impl], f"{doc['name']}.conflist"), "w") as f:
        json.dump(doc, f, indent=2)


def ctr_pid(pm: Podman, impl: str, name: str) -> int:
    return int(pm.podman(impl, "inspect", "-f", "{{.State.Pid}}", name).stdout.strip())


def in_ctr_netns(pid: int, *args: str) -> list[dict]:
    p = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-j", *args], capture_output=True, text=True,
                       timeout=30, check=True)
    return json.loads(p.stdout) if p.stdout.strip() else []


def assert_cache_is_what_pycni_writes(pm: Podman, container: str) -> None:
    """podman's libcni wrote this attachment's cache file: pycni.runtime reads it, and encodes the
    same inputs to the very same bytes (so either side can read the other's cache)."""
    from pycni.runtime import cache

    (fname,) = pm.cache_files()
    with open(os.path.join(pm.cni_cache, "results", fname), "rb") as f:
        data = f.read()
    info = cache.decode(data)
    assert info is not None and info.kind == "cniCacheV1" and info.ifname == "eth0"
    assert ("K8S_POD_NAME", container) in (info.cni_args or [])
    again = cache.encode(info.raw_result, info.config or b"", info.network_name, info.container_id, info.ifname,
                         info.netns, info.cni_args, info.capability_args)
    assert again.encode() == data
    assert cache.cached_result(os.path.join(pm.cni_cache, "results", fname), "1.0.0")["ips"]


def timed_runs(pm: Podman, impl: str, net: str, n: int = 3) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        pm.podman(impl, "run", "--rm", "--network", net, IMAGE, "true")
        out.append(time.perf_counter() - t0)
    return out


def report(capsys, text: str) -> None:
    with capsys.disabled():
        sys.stderr.write(f"\n[podman] {text}\n")


IMPLS = ["reference", "pycni"]
SUBNET_INDEX = {"reference": 10, "pycni": 20}


@pytest.mark.parametrize("impl", IMPLS)
def test_bridge_host_local_containers_reach_each_other_and_the_gateway(pm, impl, capsys):
    want(pm, impl, ["bridge", "host-local"])
    k = SUBNET_INDEX[impl]
    net, bridge = f"pmbr-{impl}", f"pmbr{pm.tag}{impl[0]}"
    subnet, gw = f"10.{pm.octet}.{k}.0/24", f"10.{pm.octet}.{k}.1"
    write_net(pm, impl, {"cniVersion": "1.0.0", "name": net, "plugins": [{
        "type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "dataDir": pm.ipam, "ranges": [[{"subnet": subnet}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}}]})
    a = f"a-{impl}"
    try:
        pm.podman(impl, "run", "-d", "--name", a, "--network", net, IMAGE, "sleep", "120")
        a_ip = pm.podman(impl, "inspect", "-f", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % net,
                         a).stdout.strip()
        assert a_ip.startswith(f"10.{pm.octet}.{k}.")
        addrs = in_ctr_netns(ctr_pid(pm, impl, a), "-4", "addr", "show", "dev", "eth0")
        assert [x["local"] for x in addrs[0]["addr_info"]] == [a_ip]
        assert len(pm.host_veths()) == 1 and len(pm.allocations(net)) == 1
        assert_cache_is_what_pycni_writes(pm, a)
        p = pm.podman(impl, "run", "--rm", "--network", net, IMAGE, "sh", "-c",
                      f"ping -c1 -W2 {a_ip} && ping -c1 -W2 {gw}", check=False)
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(pm.cache_files()) == 1  # only a's attachment; the --rm one is gone
    finally:
        pm.podman(impl, "rm", "--force", "--time", "0", a, check=False)
    assert pm.host_veths() == []
    assert pm.allocations(net) == []
    assert pm.cache_files() == []
    assert pm.netns_files() == []
    assert pm.host_addrs(f"10.{pm.octet}.{k}.") == [gw]  # the bridge keeps its gateway address, as upstream
    assert pm.rules() == pm.baseline_rules  # type: ignore[attr-defined]
    runs = timed_runs(pm, impl, net)
    report(capsys, f"{impl:9} bridge+host-local: `podman run --rm` {statistics.median(runs) * 1000:.0f} ms "
                   f"(median of {', '.join(f'{r * 1000:.0f}' for r in runs)} ms)")
    assert pm.host_veths() == [] and pm.cache_files() == [] and pm.allocations(net) == []


@pytest.mark.parametrize("impl", IMPLS)
def test_ptp_static_with_two_default_gateways(pm, impl, capsys):
    want(pm, impl, ["ptp", "static"])
    k = SUBNET_INDEX[impl]
    net = f"pmptp-{impl}"
    gw1, gw2 = f"10.{pm.octet}.{k + 1}.1", f"10.{pm.octet}.{k + 2}.1"
    ip1, ip2 = f"10.{pm.octet}.{k + 1}.2", f"10.{pm.octet}.{k + 2}.2"
    write_net(pm, impl, {"cniVersion": "1.0.0", "name": net, "plugins": [{
        "type": "ptp", "ipMasq": False,
        "ipam": {"type": "static",
                 "addresses": [{"address": f"{ip1}/24", "gateway": gw1}, {"address": f"{ip2}/24", "gateway": gw2}],
                 "routes": [{"dst": "0.0.0.0/0", "gw": gw1}, {"dst": "0.0.0.0/0", "gw": gw2}]}}]})
    name = f"p-{impl}"
    try:
        pm.podman(impl, "run", "-d", "--name", name, "--network", net, IMAGE, "sleep", "120")
        pid = ctr_pid(pm, impl, name)
        addrs = in_ctr_netns(pid, "-4", "addr", "show", "dev", "eth0")[0]["addr_info"]
        assert sorted(f"{x['local']}/{x['prefixlen']}" for x in addrs) == [f"{ip1}/24", f"{ip2}/24"]
        defaults = in_ctr_netns(pid, "-4", "route", "show", "default")
        if impl == "reference":
            # Debian's 1.1.1 ptp appends the second default route as a separate entry
            assert sorted(r["gateway"] for r in defaults) == sorted([gw1, gw2])
        else:
            # pycni installs same-destination routes as one multipath route
            assert len(defaults) == 1, defaults
            assert sorted(nh["gateway"] for nh in defaults[0]["nexthops"]) == sorted([gw1, gw2])
        for gw in (gw1, gw2):
            p = pm.podman(impl, "exec", name, "ping", "-c1", "-W2", gw, check=False)
            assert p.returncode == 0, p.stdout + p.stderr
        on_host = pm.host_addrs(f"10.{pm.octet}.{k + 1}.") + pm.host_addrs(f"10.{pm.octet}.{k + 2}.")
        assert sorted(on_host) == sorted([gw1, gw2])  # on the host-side veth
        assert len(pm.cache_files()) == 1
    finally:
        pm.podman(impl, "rm", "--force", "--time", "0", name, check=False)
    assert pm.host_veths() == []
    assert pm.host_addrs(f"10.{pm.octet}.{k + 1}.") == [] and pm.host_addrs(f"10.{pm.octet}.{k + 2}.") == []
    assert pm.host_routes(f"10.{pm.octet}.{k + 1}.") == [] and pm.host_routes(f"10.{pm.octet}.{k + 2}.") == []
    assert pm.cache_files() == []
    assert pm.netns_files() == []
    assert pm.rules() == pm.baseline_rules  # type: ignore[attr-defined]
    runs = timed_runs(pm, impl, net)
    report(capsys, f"{impl:9} ptp+static:        `podman run --rm` {statistics.median(runs) * 1000:.0f} ms "
                   f"(median of {', '.join(f'{r * 1000:.0f}' for r in runs)} ms)")
    assert pm.host_veths() == [] and pm.cache_files() == []


# --- podman's default chain with a published port ---------------------------------------------------

CHAIN_PLUGINS = ["bridge", "host-local", "portmap", "firewall", "tuning"]
# created by the first attachment and kept for the others, as upstream
SHARED_CHAINS = {"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-FORWARD", "CNI-ADMIN",
                 "CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"}
CONTAINER_PORT = 8080
REPLY = b"hello from pycni e2e\n"

CLIENT = r"""
import socket, sys, time
addr, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while True:
    try:
        with socket.create_connection((addr, port), timeout=3) as s:
            s.settimeout(3)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        if data:
            sys.stdout.buffer.write(data)
            sys.exit(0)
        err = "connection closed without data"
    except OSError as exc:
        err = repr(exc)
    if time.monotonic() > deadline:
        sys.stderr.write(err + "\n")
        sys.exit(1)
    time.sleep(0.1)
"""


def tcp_from_host_side(pm: Podman, addr: str, port: int, wait: float = 10) -> bytes:
    """Connect from the podman namespace (the containers' "host") to addr:port, retrying until the
    server answers; return what it sent before closing."""
    p = subprocess.run(["nsenter", f"--net=/run/netns/{pm.hostns}", sys.executable, "-c", CLIENT, addr, str(port),
                        str(wait)], capture_output=True, timeout=wait + 30)
    assert p.returncode == 0, f"TCP {addr}:{port} from the host side: {p.stderr.decode().strip()}"
    return p.stdout


def netfilter_dump(pm: Podman) -> str:
    """Every iptables (nft-backed and legacy) and nftables rule of the podman namespace."""
    out = []
    for tool in (["iptables-save"], ["ip6tables-save"], ["iptables-legacy-save"], ["ip6tables-legacy-save"],
                 ["nft", "list", "ruleset"]):
        if shutil.which(tool[0]):
            p = pm.in_holder(*tool)
            out.append(f"## {' '.join(tool)}\n{p.stdout}")
    return "\n".join(out)


def cni_chains(dump: str) -> set[str]:
    return set(re.findall(r"^:(CNI-[\w-]+) ", dump, re.M)) | set(re.findall(r"\bchain (CNI-[\w-]+) \{", dump))


def rules_of(dump: str, container_id: str, container_ip: str) -> list[str]:
    """The lines that belong to one container: they carry its ID (comments) or its address."""
    ip_re = re.compile(rf"(?<![\d.]){re.escape(container_ip)}(?![\d])")
    return [ln for ln in dump.splitlines() if container_id in ln or ip_re.search(ln)]


@pytest.mark.parametrize("impl", IMPLS)
def test_default_chain_published_port_reaches_the_container(pm, impl, capsys):
    for n in CHAIN_PLUGINS:
        if not os.path.isfile(os.path.join(REF, n)):
            pytest.skip(f"reference plugin {REF}/{n} missing (containernetworking-plugins)")
    if shutil.which("iptables-save") is None:
        pytest.skip("iptables-save is not installed (portmap's and firewall's rules cannot be checked)")
    want(pm, impl, CHAIN_PLUGINS)
    k = SUBNET_INDEX[impl] + 5
    net, bridge = f"pmdef-{impl}", f"pmdf{pm.tag}{impl[0]}"
    subnet, gw = f"10.{pm.octet}.{k}.0/24", f"10.{pm.octet}.{k}.1"
    host_port = 18000 + k
    # podman 4's default conflist (87-podman-bridge.conflist), with the test's bridge, subnet and IPAM dir.
    # firewall's backend is pinned to iptables: the default would pick the host's firewalld when it runs,
    # which is outside the namespaces this test owns.
    write_net(pm, impl, {"cniVersion": "1.0.0", "name": net, "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": True, "hairpinMode": True,
         "ipam": {"type": "host-local", "dataDir": pm.ipam, "ranges": [[{"subnet": subnet, "gateway": gw}]],
                  "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "firewall", "backend": "iptables"},
        {"type": "tuning"}]})
    name = f"web-{impl}"
    before = netfilter_dump(pm)
    t0 = time.perf_counter()
    try:
        pm.podman(impl, "run", "-d", "--name", name, "--network", net, "-p", f"{host_port}:{CONTAINER_PORT}",
                  IMAGE, "busybox", "nc", "-ll", "-p", str(CONTAINER_PORT), "-e", "echo", *REPLY.decode().split())
        run_ms = (time.perf_counter() - t0) * 1000
        cid = pm.podman(impl, "inspect", "-f", "{{.Id}}", name).stdout.strip()
        c_ip = pm.podman(impl, "inspect", "-f", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % net,
                         name).stdout.strip()
        assert c_ip.startswith(f"10.{pm.octet}.{k}."), c_ip
        assert len(pm.host_veths()) == 1 and len(pm.allocations(net)) == 1 and len(pm.cache_files()) == 1
        ports = pm.podman(impl, "port", name).stdout.strip()
        assert f"{CONTAINER_PORT}/tcp -> 0.0.0.0:{host_port}" in ports, ports

        # every plugin of the chain left its mark: bridge's masquerade chain, portmap's DNAT chain, firewall's rules
        during = netfilter_dump(pm)
        mine = rules_of(during, cid, c_ip)
        assert any("MASQUERADE" in ln for ln in mine), mine
        assert any(f"--to-destination {c_ip}:{CONTAINER_PORT}" in ln or f"dnat to {c_ip}:{CONTAINER_PORT}" in ln
                   for ln in mine), mine
        assert any(ln.startswith("-A CNI-FORWARD") and f"{c_ip}/32" in ln for ln in mine), mine
        assert {"CNI-HOSTPORT-DNAT", "CNI-FORWARD"} <= cni_chains(during)

        # the published port, from the namespace's host side: via the bridge's address and via localhost
        # (portmap's route_localnet + masquerade path)
        assert tcp_from_host_side(pm, gw, host_port) == REPLY
        assert tcp_from_host_side(pm, "127.0.0.1", host_port) == REPLY
        # and the container port directly, to be sure the reply really comes from the container
        assert tcp_from_host_side(pm, c_ip, CONTAINER_PORT) == REPLY
    finally:
        pm.podman(impl, "rm", "--force", "--time", "0", name, check=False)
    assert pm.host_veths() == []
    assert pm.allocations(net) == []
    assert pm.cache_files() == []
    assert pm.netns_files() == []
    assert pm.rules() == pm.baseline_rules  # type: ignore[attr-defined]
    after = netfilter_dump(pm)
    assert rules_of(after, cid, c_ip) == [], after
    assert cni_chains(after) - SHARED_CHAINS == cni_chains(before) - SHARED_CHAINS, after
    p = subprocess.run(["nsenter", f"--net=/run/netns/{pm.hostns}", sys.executable, "-c", CLIENT, gw, str(host_port),
                        "0"], capture_output=True, timeout=30)
    assert p.returncode != 0, "the host port still answers after `podman rm`"

    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        pm.podman(impl, "run", "--rm", "--network", net, "-p", f"{host_port}:{CONTAINER_PORT}", IMAGE, "true")
        runs.append(time.perf_counter() - t0)
    report(capsys, f"{impl:9} bridge+portmap+firewall+tuning: `podman run -d -p` {run_ms:.0f} ms; "
                   f"`podman run --rm -p` {statistics.median(runs) * 1000:.0f} ms "
                   f"(median of {', '.join(f'{r * 1000:.0f}' for r in runs)} ms)")
    after = netfilter_dump(pm)
    assert pm.host_veths() == [] and pm.cache_files() == [] and pm.allocations(net) == []
    assert cni_chains(after) - SHARED_CHAINS == cni_chains(before) - SHARED_CHAINS, after
