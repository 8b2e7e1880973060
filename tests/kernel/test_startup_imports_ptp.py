"""ptp + static ADD (IPAM run in-process) stays on its import allow-list, in namespaces made here.

Allowed beyond the protocol core: the netlink and linux layers, `_socket`/`struct` for netlink,
`os` and `errno`, and `ctypes` for setns(2) (Python 3.11 has no os.setns). Not allowed: `socket`
(and the enum/selectors it drags in), `subprocess` (only ipMasq needs it), json, re, typing …
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pycni

SRC = str(Path(pycni.__file__).resolve().parent.parent)
PROBE = str(Path(__file__).resolve().parent.parent / "startup_probe.py")

HEAVY = {"json", "re", "typing", "socket", "enum", "subprocess", "ipaddress", "dataclasses", "importlib",
         "collections", "selectors", "argparse", "tempfile", "random", "hashlib", "logging", "inspect"}
STDLIB_OK = {"__future__", "_socket", "_struct", "struct", "errno", "os", "os.path", "posixpath",
             "genericpath", "stat", "_stat", "_collections_abc", "ctypes", "_ctypes", "ctypes._endian", "types",
             "_sha512"}  # the built-in sha512 (not hashlib) that names masquerade chains


def test_ptp_add_and_del_import_no_heavy_module(netns_factory, pycni_dir):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    conf = {"cniVersion": "1.1.0", "name": "imp", "type": "ptp", "dad": "skip",
            "ipam": {"type": "static", "addresses": [{"address": "10.10.0.2/24", "gateway": "10.10.0.1"}],
                     "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}]}}
    for command in ("ADD", "DEL"):
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "imp1", "CNI_NETNS": f"/run/netns/{cont}",
               "CNI_IFNAME": "eth0", "CNI_PATH": pycni_dir}
        p = subprocess.run(["ip", "netns", "exec", host, sys.executable, "-I", "-S", PROBE, SRC,
                            "pycni.plugins.main.ptp"], input=json.dumps(conf).encode(), env=env,
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
        marker = [line for line in p.stderr.decode().splitlines() if line.startswith("PYCNI-MODULES ")]
        mods = set(marker[-1].split()[1:])
        assert not mods & HEAVY, f"{command}: heavy modules: {sorted(mods & HEAVY)}"
        foreign = {m for m in mods if not m.startswith("pycni") and m not in STDLIB_OK}
        assert not foreign, f"{command}: not on the allow-list: {sorted(foreign)}"
