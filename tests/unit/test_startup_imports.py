"""What a plugin exec imports stays on an allow-list, so a slow import cannot creep in unnoticed.

Each case runs the real command in a fresh `python -I -S` (as the launchers do) and compares the
modules it loaded with the allow-list. Heavy modules (json, re, typing, socket, enum, subprocess,
ipaddress, dataclasses, importlib, collections …) are not on it: the hot path does without them.
The namespace case (ptp ADD) is in tests/kernel/test_startup_imports_ptp.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pycni

SRC = str(Path(pycni.__file__).resolve().parent.parent)
PROBE = str(Path(__file__).resolve().parent.parent / "startup_probe.py")

CORE = {
    "__future__", "pycni", "pycni.gofmt", "pycni.plugins", "pycni.skel", "pycni.spec", "pycni.spec.errors",
    "pycni.spec.version",
}
STATIC = CORE | {"pycni.plugins.ipam", "pycni.plugins.ipam.static"}
STATIC_ADD = STATIC | {
    "pycni.plugins.ipam.static.plugin", "pycni.plugins.ipam.static.config", "pycni.spec.netconf", "pycni.spec.args", "pycni.spec.godecode", "pycni.spec.gojson",
    "pycni.spec.ipnet", "pycni.spec.result",
}
HEAVY = {"json", "re", "typing", "socket", "enum", "subprocess", "ipaddress", "dataclasses", "importlib",
         "collections", "selectors", "argparse", "tempfile", "random", "hashlib", "logging", "inspect"}


def loaded(module: str, env: dict[str, str], stdin: bytes = b"") -> set[str]:
    p = subprocess.run([sys.executable, "-I", "-S", PROBE, SRC, module], input=stdin, env=env,
                       capture_output=True, timeout=60)
    marker = [line for line in p.stderr.decode().splitlines() if line.startswith("PYCNI-MODULES ")]
    assert marker, p.stderr.decode()
    return set(marker[-1].split()[1:])


def check(mods: set[str], allowed: set[str]) -> None:
    assert not mods & HEAVY, f"heavy modules on the hot path: {sorted(mods & HEAVY)}"
    assert mods <= allowed, f"not on the allow-list: {sorted(mods - allowed)}"


def test_version_imports_only_the_dispatcher():
    check(loaded("pycni.plugins.ipam.static", {"CNI_COMMAND": "VERSION"}), STATIC)


def test_static_add_imports_only_the_protocol_core():
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "static",
            "ipam": {"type": "static", "addresses": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"},
                                                     {"address": "fd00::2/64"}],
                     "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.0.0.254"}]}}
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/some/where", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent"}
    check(loaded("pycni.plugins.ipam.static", env, json.dumps(conf).encode()), STATIC_ADD)


def test_an_error_needs_no_more_than_an_add():
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"}
    check(loaded("pycni.plugins.ipam.static", env, b"not json"), STATIC_ADD)


def test_plugin_modules_import_cheaply():
    # Importing any plugin module (what VERSION of that plugin pays) loads no heavy module.
    from pycni.plugins.registry import PLUGINS

    for name, module in PLUGINS.items():
        mods = loaded(module, {"CNI_COMMAND": "VERSION"})
        assert not mods & HEAVY, f"{name}: heavy modules at import: {sorted(mods & HEAVY)}"
        assert not {m for m in mods if m.startswith("pycni.") and m.split(".")[1] in ("netlink", "linux", "runtime", "cli")}, \
            f"{name}: kernel or runtime modules imported for VERSION: {sorted(mods)}"


HOST_LOCAL = CORE | {
    "pycni.plugins.ipam", "pycni.plugins.ipam.host_local", "pycni.plugins.ipam.host_local.plugin",
    "pycni.plugins.ipam.host_local.allocator", "pycni.plugins.ipam.host_local.config",
    "pycni.plugins.ipam.host_local.range", "pycni.plugins.ipam.host_local.store",
    "pycni.plugins.ipam.host_local.store.crash", "pycni.plugins.ipam.host_local.store.gofs",
    "pycni.plugins.ipam.host_local.store.index", "pycni.plugins.ipam.host_local.store.layout", "pycni.spec.args",
    "pycni.spec.godecode", "pycni.spec.gojson", "pycni.spec.ipnet", "pycni.spec.result", "errno", "fcntl",
}


def test_host_local_add_and_del_do_without_os(tmp_path):
    # `os` (with stat, posixpath and _collections_abc) costs about a millisecond per exec: the store uses posix.
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "bridge",
            "ipam": {"type": "host-local", "dataDir": str(tmp_path), "ranges": [[{"subnet": "10.9.0.0/24"}]]}}
    for cmd in ("ADD", "DEL"):
        env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "c1", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0",
               "CNI_PATH": "/nonexistent"}
        mods = loaded("pycni.plugins.ipam.host_local", env, json.dumps(conf).encode())
        check(mods, HOST_LOCAL)
        assert "os" not in mods
    assert sorted(p.name for p in (tmp_path / "n").iterdir()) == ["last_reserved_ip.0", "lock"]


TUNING_NOOP = CORE | {
    "pycni.plugins.meta", "pycni.plugins.meta.tuning", "pycni.plugins.meta.tuning.plugin",
    "pycni.plugins.meta.tuning.config", "pycni.plugins.shared", "pycni.plugins.shared.conf",
    "pycni.plugins.shared.mac", "pycni.netlink", "pycni.netlink.netns", "pycni.spec.args", "pycni.spec.godecode",
    "pycni.spec.gojson", "pycni.spec.hwaddr", "pycni.spec.ipnet", "pycni.spec.netconf", "pycni.spec.result",
}


def _chained(plugin: str, **extra: object) -> bytes:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/proc/self/ns/net"}],
            "ips": [{"address": "10.88.0.5/16", "gateway": "10.88.0.1", "interface": 0}]}
    return json.dumps({"cniVersion": "1.0.0", "name": "podman", "type": plugin, "prevResult": prev, **extra}).encode()


def test_tuning_that_changes_nothing_loads_no_kernel_stack():
    # podman's default chain ends in a bare {"type": "tuning"}: ADD checks the netns and passes the result
    # on, DEL finds no backup. Neither needs netlink, setns (ctypes before 3.12) or os.
    conf = _chained("tuning")
    for cmd in ("ADD", "DEL"):
        env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "c1", "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth0",
               "CNI_PATH": "/nonexistent"}
        mods = loaded("pycni.plugins.meta.tuning", env, conf)
        check(mods, TUNING_NOOP)
        assert not mods & {"os", "ctypes", "pycni.netlink.codec", "pycni.netlink.socket"}


def test_portmap_and_bandwidth_with_nothing_to_do_load_no_kernel_stack():
    # No mapping (the capability without runtime values) / no limit: upstream returns prevResult at once;
    # pycni loads no more than the config decoding for it (portmap also skips upstream's backend probe).
    env = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"}
    cases = [("portmap", "ADD"), ("portmap", "DEL"), ("portmap", "CHECK"), ("bandwidth", "ADD")]
    for plugin, cmd in cases:
        conf = _chained(plugin, capabilities={"portMappings" if plugin == "portmap" else "bandwidth": True})
        mods = loaded(f"pycni.plugins.meta.{plugin}", dict(env, CNI_COMMAND=cmd), conf)
        assert not mods & HEAVY, (plugin, cmd, sorted(mods & HEAVY))
        kernel = {m for m in mods if m.startswith(("pycni.linux", "pycni.netlink"))} | (mods & {"os", "ctypes"})
        assert not kernel, (plugin, cmd, sorted(kernel))
