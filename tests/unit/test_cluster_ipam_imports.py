"""cluster-ipam's exec path stays light: no http.client/ssl/json/re/socket, only `_socket` (and `_ssl`
for https endpoints). Runs ADD in a fresh `python -I -S` against a closed port (code 11)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pycni

SRC = str(Path(pycni.__file__).resolve().parent.parent)
PROBE = str(Path(__file__).resolve().parent.parent / "startup_probe.py")
HEAVY = {"json", "re", "typing", "socket", "enum", "subprocess", "ipaddress", "dataclasses", "importlib",
         "collections", "selectors", "argparse", "tempfile", "random", "hashlib", "logging", "inspect",
         "http", "http.client", "ssl", "_ssl", "base64", "email", "os", "urllib"}


def test_add_imports_no_heavy_module(tmp_path: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = {"cniVersion": "1.1.0", "name": "n", "ipam": {
        "type": "cluster-ipam", "etcd_endpoints": [f"127.0.0.1:{port}"], "range": "10.0.0.0/24",
        "lock_dir": str(tmp_path), "etcd_budget_ms": 200}}
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/x", "NODENAME": "n1"}
    p = subprocess.run([sys.executable, "-I", "-S", PROBE, SRC, "pycni.plugins.ipam.cluster_ipam"],
                       input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=60, check=False)
    out = json.loads(p.stdout)
    assert out["code"] == 11 and f"127.0.0.1:{port}: connection refused" in out["details"]
    marker = [line for line in p.stderr.decode().splitlines() if line.startswith("PYCNI-MODULES ")]
    assert marker, p.stderr.decode()
    mods = set(marker[-1].split()[1:])
    assert "pycni.plugins.ipam.cluster_ipam.engine" in mods
    assert not mods & HEAVY, sorted(mods & HEAVY)
