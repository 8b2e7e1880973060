"""`bridge` DEL: delete the veth (tolerating a gone netns or link), release the IP, then the spoof-check
and masquerade rules.

Apart from plugin.py so that a DEL loads none of ADD's bridge, address and route machinery. The masquerade
is found by network name and container ID, so it goes even when the netns, CNI_NETNS or the link is
already gone (upstream leaks it then); the addresses come from the link, else from prevResult.
"""

from __future__ import annotations

import sys

from pycni import invoke
from pycni.plugins.shared.conf import ipam_type as ipam_type_of
from pycni.plugins.shared.veth import delete_container_veth
from pycni.skel import CmdArgs
from pycni.spec.netconf import parse_prev_result
from pycni.spec.result import convert

from .config import load_netconf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def prev_ips(conf: dict[str, Any], ifname: str) -> list[str]:
    """The container's addresses from prevResult (best effort: a bad prevResult yields none)."""
    prev = conf.get("prevResult")
    if not isinstance(prev, dict):
        return []
    try:
        res = convert(parse_prev_result(prev, conf.get("cniVersion", "")) or {}, "1.1.0")
    except Exception:  # noqa: BLE001 - best effort: without usable IPs there is nothing to tear down
        return []
    ifaces = res.get("interfaces") or []
    out = []
    for ipc in res.get("ips") or []:
        idx = ipc.get("interface")
        if idx is not None and not (0 <= idx < len(ifaces) and ifaces[idx].get("name") == ifname):
            continue
        out.append(ipc["address"])
    return out


def cmd_del(args: CmdArgs) -> None:
    conf = load_netconf(args.conf, args.args)
    ipam_type = ipam_type_of(conf)

    addrs = delete_container_veth(args.netns, args.ifname)
    if ipam_type:
        invoke.ipam_call(ipam_type, "DEL", args)

    if conf.get("macspoofchk"):
        from pycni.linux import bridge as lb  # lazy: netlink bridge and nft helpers, only with macspoofchk

        try:
            lb.spoofcheck_teardown(lb.spoof_ref_id(args.container_id, args.ifname))
        except lb.BridgeError as exc:
            sys.stderr.write(f"{exc}\n")

    if ipam_type and conf.get("ipMasq"):
        # pycni: without the link (netns gone, or link already removed) the prevResult IPs are used.
        if not addrs:
            addrs = prev_ips(conf, args.ifname)
        from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

        try:
            ipmasq.teardown(addrs, conf.get("name", ""), args.ifname, args.container_id)
        except ipmasq.IPMasqError as exc:
            raise ValueError(str(exc)) from None
