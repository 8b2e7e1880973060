"""`dhcp` IPAM, the exec role: forward ADD/CHECK (DHCP.Allocate) and DEL (DHCP.Release) to the daemon.

Speaks Go's net/rpc + gob on the daemon's unix socket, so it works with the Go daemon as with pycni's.
Unlike upstream, the call is bounded (`ipam.rpcTimeout`, default 5m) and a conf without `ipam` is an
error rather than a crash. Holds no state; never touches the network itself.
"""

from __future__ import annotations

import posix

from pycni.gofmt import clean_path, q
from pycni.skel import CmdArgs
from pycni.spec import errors as E
from pycni.spec.errors import CNIError
from pycni.spec.godecode import DecodeError, decode_struct

from . import rpc
from .config import NET
from .flags import format_duration, parse_duration
from .wire import CMD_ARGS, gob_to_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.spec.result import Result

DEFAULT_SOCKET_PATH = "/run/cni/dhcp.sock"
DEFAULT_RPC_TIMEOUT = 300.0  # above the daemon's default -resendtimeout (208s): a slow lease still lands


def load_conf(args: CmdArgs) -> dict[str, Any]:
    """The decoded `ipam` section (upstream's getSocketPath decode, Go's error text)."""
    try:
        conf = decode_struct(args.conf, NET)
    except DecodeError as exc:
        raise ValueError(f"error obtaining socketPath: error parsing socket path conf: {exc}") from None
    if "ipam" not in conf:
        # upstream dereferences a nil pointer and panics here
        raise CNIError(E.INVALID_NETWORK_CONFIG, "error obtaining socketPath: network config has no \"ipam\" section")
    return conf["ipam"]


def _abs(path: str) -> str:
    """filepath.Abs: the daemon may run elsewhere, so the netns path must be absolute."""
    if path.startswith("/"):
        return clean_path(path)
    return clean_path(posix.getcwd() + "/" + path)


def rpc_call(method: str, args: CmdArgs) -> Any:
    ipam = load_conf(args)
    path = ipam.get("daemonSocketPath") or DEFAULT_SOCKET_PATH
    timeout = DEFAULT_RPC_TIMEOUT
    if ipam.get("rpcTimeout"):
        try:
            timeout = parse_duration(ipam["rpcTimeout"])
        except ValueError as exc:
            raise CNIError(E.INVALID_NETWORK_CONFIG, f"invalid ipam.rpcTimeout {q(ipam['rpcTimeout'])}: {exc}") from None
        if timeout <= 0:
            raise CNIError(E.INVALID_NETWORK_CONFIG, "ipam.rpcTimeout must be positive")
    try:
        client = rpc.Client(path, timeout)
    except rpc.RPCError as exc:
        raise ValueError(f"error dialing DHCP daemon: {exc}") from None
    try:
        cmd_args = {
            "ContainerID": args.container_id, "Netns": _abs(args.netns), "IfName": args.ifname, "Args": args.args,
            "Path": args.path, "NetnsOverride": args.env.get("CNI_NETNS_OVERRIDE", ""), "StdinData": args.stdin,
        }
        return client.call(method, CMD_ARGS, cmd_args)
    except rpc.RPCTimeout:
        raise ValueError(f"error calling {method}: no answer from the DHCP daemon at {path} within "
                         f"{format_duration(timeout)}") from None
    except rpc.RPCError as exc:
        raise ValueError(f"error calling {method}: {exc}") from None
    finally:
        client.close()


def cmd_add(args: CmdArgs) -> Result:
    reply = rpc_call("DHCP.Allocate", args)
    return gob_to_result(reply)


def cmd_check(args: CmdArgs) -> None:
    # As upstream: CHECK is an Allocate whose result is dropped (it nudges the lease's maintenance).
    rpc_call("DHCP.Allocate", args)


def cmd_del(args: CmdArgs) -> None:
    rpc_call("DHCP.Release", args)


# Upstream has no GC or STATUS for dhcp (FIXMEs): both succeed without doing anything.
cmd_gc = None
cmd_status = None
