"""`portmap`, the implementation: forward host ports to the container (chained; upstream HEAD).

Config: runtimeConfig.portMappings (capability `portMappings`), backend, snat, markMasqBit,
externalSetMarkChain, masqAll, conditionsV4/conditionsV6. The container IPs are the first IPv4 and
first IPv6 address of prevResult on CNI_IFNAME; ADD answers prevResult unchanged. DEL never enters
the container netns, so it works (and is idempotent) when the namespace is gone. The rules themselves
are made by `forwarding.py` and the backends (`iptables.py`, `nftables.py`).

Deliberate differences from upstream: when ADD fails part-way (e.g. the IPv6 rules cannot be added
after the IPv4 ones were), the rules this ADD made for the container are removed before the error is
returned (upstream leaves them); GC and STATUS are no-ops, as upstream (there is no safe GC: the rules
only carry the container ID, not the network, and GC only knows this network's attachments).
"""

from __future__ import annotations

from pycni.plugins.shared.prev_result import without_prev_result
from pycni.skel import CmdArgs

from .config import parse_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _load(args: CmdArgs, prefix: str, raw: Any = None) -> tuple[dict[str, Any], Any]:
    try:
        conf, prev = parse_config(args.conf if raw is None else raw, args.ifname)
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from None
    conf["containerID"] = args.container_id
    return conf, prev


def cmd_add(args: CmdArgs) -> Any:
    conf, prev = _load(args, "failed to parse config: ")
    if prev is None:
        raise ValueError("must be called as chained plugin")
    if not conf["portMappings"]:
        return prev  # podman's usual call: nothing to forward, and nothing more is loaded
    from . import forwarding  # lazy: netfilter and the backends (~3 ms), only with a mapping to make

    forwarding.add(conf)
    return prev


def cmd_del(args: CmdArgs) -> None:
    # the chains are named by network and container: DEL never needs (or fails on) prevResult
    conf, _prev = _load(args, "failed to parse config: ", without_prev_result(args.conf))
    if not conf["portMappings"]:
        return
    from . import forwarding  # lazy: as in cmd_add

    forwarding.delete(conf)


def cmd_check(args: CmdArgs) -> None:
    conf, prev = _load(args, "")
    if prev is None:
        raise ValueError("Required prevResult missing")
    if not conf["portMappings"]:
        return
    from . import forwarding  # lazy: as in cmd_add

    forwarding.check(conf)


# Upstream's portmap registers no GC/STATUS handler (skel answers both with success): nothing to forward.
cmd_gc = cmd_status = None
