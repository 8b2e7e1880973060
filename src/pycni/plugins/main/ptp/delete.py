"""`ptp` DEL: release the IP, delete the veth (tolerating a gone netns or link), then the masquerade.

Apart from plugin.py so that a DEL loads only what it uses. The masquerade is found by network name and
container ID, so it goes even when the netns, CNI_NETNS or the link is already gone (upstream leaks it).
"""

from __future__ import annotations

from pycni import invoke
from pycni.plugins.shared.conf import decode_conf, ipam_type
from pycni.plugins.shared.veth import delete_container_veth
from pycni.skel import CmdArgs
from pycni.spec.godecode import BOOL, INT, STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIELDS = [("ipMasq", BOOL), ("ipMasqBackend", STRING), ("mtu", INT), ("dad", STRING)]


def load_conf(args: CmdArgs) -> dict[str, Any]:
    return decode_conf(args.conf, FIELDS, "failed to load netconf")


def cmd_del(args: CmdArgs) -> None:
    conf = load_conf(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)
    addrs = delete_container_veth(args.netns, args.ifname)
    if conf.get("ipMasq"):
        from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

        ipmasq.teardown(addrs, conf.get("name", ""), args.ifname, args.container_id)
