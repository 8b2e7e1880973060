"""`pycni add|check|del|gc|status NETWORK NETNS`: cnitool's commands on pycni.runtime.

Conventions as cnitool: NETCONFPATH (default /etc/cni/net.d), CNI_PATH, CNI_ARGS (strict
"K=V;K=V"), CAP_ARGS (a JSON object of capability arguments), the interface from -i/--ifname,
else CNI_IFNAME, else eth0; the netns path made absolute and the container ID derived from it
("cnitool-" + 20 hex digits of its SHA-512) unless --container-id is given. `add` prints the
result; an error is printed on stderr and the exit status is 1. `gc` keeps nothing unless
--valid-attachment pairs are given.
"""

from __future__ import annotations

import os
import sys

from pycni.gofmt import q
from pycni.invoke import split_path
from pycni.runtime.api import CNIRuntime, RuntimeConf
from pycni.runtime.conf import load_network
from pycni.runtime.errors import CNIRuntimeError
from pycni.runtime.gomarshal import MarshalError, go_any
from pycni.spec import gojson
from pycni.spec import result as R
from pycni.spec.errors import CNIError
from pycni.spec.godecode import json_kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

DEFAULT_NET_DIR = "/etc/cni/net.d"


class UsageError(Exception):
    pass


def parse_cni_args(value: str) -> list[tuple[str, str]]:
    """cnitool's CNI_ARGS parsing: every ';'-separated pair must be exactly K=V, both non-empty."""
    out = []
    for pair in value.split(";"):
        kv = pair.split("=")
        if len(kv) != 2 or kv[0] == "" or kv[1] == "":
            raise UsageError(f"invalid CNI_ARGS pair {q(pair)}")
        out.append((kv[0], kv[1]))
    return out


def parse_cap_args(value: str) -> dict[str, Any] | None:
    """CAP_ARGS: a JSON object (values decoded as Go's interface{}); `null` means none."""
    try:
        obj = gojson.loads(value)
    except gojson.JSONSyntaxError as exc:
        raise UsageError(str(exc)) from None
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise UsageError(f"json: cannot unmarshal {json_kind(obj)} into Go value of type map[string]interface {{}}")
    try:
        return go_any(obj)
    except MarshalError as exc:
        raise UsageError(str(exc)) from None


def go_abs(path: str) -> str:
    """filepath.Abs: joined with the working directory and cleaned ("//x" becomes "/x")."""
    p = os.path.normpath(os.path.join(os.getcwd(), path))
    if p.startswith("//"):
        p = "/" + p.lstrip("/")
    return p


def container_id_for(netns_abs: str) -> str:
    import hashlib  # lazy: heavy stdlib, only on this branch

    return "cnitool-" + hashlib.sha512(netns_abs.encode("utf-8", "surrogateescape")).digest()[:10].hex()


def setup(ns: argparse.Namespace, environ: Any = None) -> tuple[Any, Any]:
    """setupRuntimeConfig: the network list and the RuntimeConf for this invocation."""
    env = os.environ if environ is None else environ
    netdir = env.get("NETCONFPATH", "") or DEFAULT_NET_DIR
    net = load_network(netdir, ns.network)
    cap_args = None
    if env.get("CAP_ARGS", ""):
        cap_args = parse_cap_args(env["CAP_ARGS"])
    cni_args = None
    if env.get("CNI_ARGS", ""):
        cni_args = parse_cni_args(env["CNI_ARGS"])
    ifname = ns.ifname or env.get("CNI_IFNAME", "") or "eth0"
    netns = go_abs(ns.netns)
    cid = ns.container_id or container_id_for(netns)
    return net, RuntimeConf(cid, netns, ifname, cni_args, cap_args)


def runtime_for(ns: argparse.Namespace, environ: Any = None) -> Any:
    env = os.environ if environ is None else environ
    return CNIRuntime(split_path(env.get("CNI_PATH", "")), getattr(ns, "cache_dir", "") or "",
                      in_process=bool(getattr(ns, "in_process", False)))


def run(ns: argparse.Namespace) -> int:
    """Carry out one sub-command; returns the exit status."""
    try:
        net, rt = setup(ns)
        cni = runtime_for(ns)
        cmd = ns.command
        if cmd == "add":
            result = cni.add_network_list(net, rt)
            if result is not None:
                sys.stdout.write(gojson.dumps(R.to_json_obj(result)) + "\n")
                sys.stdout.flush()
        elif cmd == "check":
            cni.check_network_list(net, rt)
        elif cmd == "del":
            cni.del_network_list(net, rt)
        elif cmd == "gc":
            valid = None
            if ns.valid_attachment:
                valid = [tuple(v) for v in ns.valid_attachment]
            cni.gc_network_list(net, valid)
        elif cmd == "status":
            cni.get_status_network_list(net)
        else:  # pragma: no cover - argparse limits the choices
            raise UsageError(f"unknown command {cmd}")
    except (CNIRuntimeError, CNIError, UsageError, OSError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0
