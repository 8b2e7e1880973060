"""`loopback`, the implementation: bring `lo` up in the container (upstream HEAD). CNI_IFNAME is ignored.

ADD answers prevResult unchanged when given, else `lo` with its first IPv4 and IPv6 address.
Unlike upstream, the answer is converted to the config's version (upstream labels a 1.x-shaped
result with e.g. 0.2.0, which a 0.2.0 runtime cannot read).
"""

from __future__ import annotations

from _socket import AF_INET, AF_INET6

from pycni.linux import addr, link
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.netns import NSPathNotExistError
from pycni.plugins.shared.prev_result import load_prev_result
from pycni.spec.godecode import DecodeError
from pycni.spec.netconf import load_netconf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Result


def _parse_conf(args: CmdArgs) -> tuple[dict[str, Any], Result | None]:
    try:
        conf = load_netconf(args.conf)
    except DecodeError as exc:
        raise ValueError(f"failed to parse network config: {exc}") from None
    prev, _ = load_prev_result(conf, parse_text="failed to parse prevResult",
                               convert_text="failed to convert result to current version")
    return conf, prev


def cmd_add(args: CmdArgs) -> Result:
    _, prev = _parse_conf(args)
    firsts: list[str] = []
    with netns.netns(args.netns):
        lo = link.link_by_name("lo")
        link.link_set_up(lo)
        for fam in (AF_INET, AF_INET6):
            addrs = addr.addr_list(lo.index, fam)
            for a in addrs:
                ip = a.local or a.address or ""
                if not _is_loopback(ip):
                    raise ValueError(f'loopback interface found with non-loopback address "{ip}"')
            if addrs:
                firsts.append(f"{addrs[0].local or addrs[0].address}/{addrs[0].prefixlen}")
    if prev is not None:
        return prev
    return {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": args.netns}],
        "ips": [{"interface": 0, "address": a} for a in firsts],
        "dns": {},
    }


def _is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"


def cmd_del(args: CmdArgs) -> None:
    if args.netns == "":
        return
    try:
        with netns.netns(args.netns):
            link.link_set_down(link.link_by_name("lo"))
    except NSPathNotExistError:
        return


def cmd_check(args: CmdArgs) -> None:
    with netns.netns(args.netns):
        lo = link.link_by_name("lo")
        if not lo.flags & c.IFF_UP:
            raise ValueError("loopback interface is down")


cmd_gc = cmd_status = None  # upstream's skel: no GC/STATUS handler, so both succeed doing nothing
