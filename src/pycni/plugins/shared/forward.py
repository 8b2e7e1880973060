"""The default GC and STATUS of a plugin: hand the call to the config's IPAM plugin, if it has one.

What upstream's interface plugins do (ptp.go, macvlan.go: `ipam.ExecGC` / `ipam.ExecStatus`);
skel uses `default_handler` when a plugin's implementation module defines no `cmd_gc` /
`cmd_status`. The config is decoded by the module's own `load_conf`, so a bad config fails with
the same text as it does for ADD.
"""

from __future__ import annotations

from pycni import invoke
from pycni.plugins.shared.conf import ipam_type
from pycni.skel import CmdArgs
from pycni.spec.godecode import DecodeError
from pycni.spec.netconf import load_netconf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def forward(cmd: str, ipam: str, args: CmdArgs) -> None:
    """Delegate `cmd` to the IPAM plugin, when there is one."""
    if ipam:
        invoke.ipam_call(ipam, cmd, args)


def _netconf(args: CmdArgs) -> dict[str, Any]:
    try:
        return load_netconf(args.conf)
    except DecodeError as exc:
        raise ValueError(f"failed to load netconf: {exc}") from None


def default_handler(cmd: str, module: Any) -> Callable[[CmdArgs], None]:
    """GC or STATUS for a plugin module: decode with its `load_conf` (or types.NetConf), then forward."""
    load = getattr(module, "load_conf", _netconf)

    def handler(args: CmdArgs) -> None:
        forward(cmd, ipam_type(load(args)), args)

    handler.__qualname__ = f"forward_{cmd.lower()}"
    return handler
