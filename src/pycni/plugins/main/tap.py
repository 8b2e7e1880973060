"""`tap`: a persistent tap device in the container, optionally a port of a bridge there (upstream HEAD).

Recipe: load config (MAC from CNI_ARGS `MAC`, then runtimeConfig.mac) -> inside the container netns create a tap
under a temporary `veth…` name -> MTU/MAC -> rename to CNI_IFNAME -> enslave to `bridge` -> up -> L3: IPAM ADD,
arp_notify=1, configure_iface. Failures after creation delete the link and release the IP.
Creation follows upstream's two paths, natively (ioctls on /dev/net/tun) instead of through `ip tuntap`:
  * owner and group both given, no selinuxContext: IFF_TAP|IFF_VNET_HDR (+IFF_MULTI_QUEUE|IFF_NO_PI);
  * otherwise: IFF_TAP|IFF_NO_PI (+IFF_MULTI_QUEUE), owner/group as given (what `ip tuntap add` does).
With selinuxContext the label is set as the exec label of this thread and the device is made by `ip tuntap add`,
as upstream, so the kernel labels it from that context.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC is forwarded to IPAM.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXEC_ATTR = "/proc/thread-self/attr/exec"
IP_BINARY = "ip"


def _fields() -> list[tuple[str, Any]]:
    from pycni.plugins.common import runtime_mac_field
    from pycni.spec.godecode import BOOL, INT, RAW, STRING, Struct

    return [("multiQueue", BOOL), ("mtu", INT), ("mac", STRING), ("owner", RAW), ("group", RAW),
            ("selinuxContext", STRING), ("bridge", STRING), ("args", ("struct", Struct("", [], "struct {}"))),
            runtime_mac_field(), ("dad", STRING)]


def decode(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.common import decode_conf

    return decode_conf(args.conf, _fields(), "failed to load netconf")


def load_conf(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.common import apply_mac_overrides, uint32_field

    conf = decode(args)
    uint32_field(conf, "owner", "failed to load netconf")
    uint32_field(conf, "group", "failed to load netconf")
    apply_mac_overrides(conf, args.args)
    return conf


def _set_exec_label(label: str) -> None:
    import os

    try:
        fd = os.open(EXEC_ATTR, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, label.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        from pycni.gofmt import errno_text as strerror

        op = "open" if exc.filename else "write"
        raise ValueError(f"failed set socket label: {op} {EXEC_ATTR}: {strerror(exc.errno or 0)}") from None


def _run_ip(argv: list[str]) -> None:
    import subprocess

    try:
        p = subprocess.run([IP_BINARY, *argv], capture_output=True, check=False)
    except OSError as exc:
        raise ValueError(f'failed to run command : exec: "{IP_BINARY}": {exc.strerror}') from None
    if p.returncode != 0:
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        raise ValueError(f"failed to run command {out}: exit status {p.returncode}")


def _create_with_ip(tmp: str, conf: dict[str, Any]) -> None:
    """upstream's createTapWithIptool, used when a SELinux context must label the device."""
    argv = ["tuntap", "add", "mode", "tap", "name", tmp]
    if conf.get("multiQueue"):
        argv.append("multi_queue")
    if conf.get("owner") is not None:
        argv += ["user", str(conf["owner"])]
    if conf.get("group") is not None:
        argv += ["group", str(conf["group"])]
    _run_ip(argv)
    argv = ["link", "set", tmp]
    if conf.get("mtu", 0):
        argv += ["mtu", str(conf["mtu"])]
    if conf.get("mac"):
        argv += ["address", conf["mac"]]
    _run_ip(argv)


def create_flags(conf: dict[str, Any]) -> int:
    """The tun flags upstream ends up with on each of its creation paths."""
    from pycni.linux import tuntap

    mq = bool(conf.get("multiQueue"))
    if conf.get("owner") is not None and conf.get("group") is not None and not conf.get("selinuxContext"):
        return tuntap.tap_flags(vnet_hdr=True, no_pi=mq, multi_queue=mq)
    return tuntap.tap_flags(vnet_hdr=False, no_pi=True, multi_queue=mq)


def _create_native(tmp: str, conf: dict[str, Any]) -> None:
    from pycni.linux import link, linkinfo, tuntap
    from pycni.netlink.socket import NetlinkError
    from pycni.plugins.common import drop_link

    try:
        tuntap.create(tmp, create_flags(conf), owner=conf.get("owner"), group=conf.get("group"))
    except (tuntap.TuntapError, ValueError) as exc:
        raise ValueError(f"failed to create tap: {exc}") from None
    try:
        lk = link.link_by_name(tmp)
        linkinfo.link_set_attrs(lk.index, mtu=conf.get("mtu", 0), mac=conf.get("mac") or None)
    except NetlinkError as exc:
        drop_link(tmp)
        raise ValueError(f"failed to create tap: {exc}") from None


def _create(conf: dict[str, Any], args: CmdArgs) -> dict[str, Any]:
    """createTap: runs inside the container netns."""
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError
    from pycni.plugins.common import check_mac_arg, drop_link, rename_temp_link

    check_mac_arg(conf.get("mac"))
    mtu = conf.get("mtu", 0)
    if mtu < 0 or mtu > 0xFFFFFFFF:
        raise ValueError(f"invalid MTU {mtu}")
    tmp = link.random_veth_name()
    if conf.get("selinuxContext"):
        _set_exec_label(conf["selinuxContext"])
        try:
            _create_with_ip(tmp, conf)
        except BaseException:
            drop_link(tmp)
            raise
    else:
        _create_native(tmp, conf)
    lk = rename_temp_link("tap", tmp, args.ifname)
    try:
        if conf.get("bridge"):
            try:
                br = link.link_by_name(conf["bridge"])
            except NetlinkError as exc:
                raise ValueError(f"failed to get bridge {conf['bridge']}: {exc}") from None
            try:
                link.link_set_master(lk, br)
            except NetlinkError as exc:
                raise ValueError(f"failed to set tap {args.ifname} as a port of bridge {conf['bridge']}: "
                                 f"{exc}") from None
        try:
            link.link_set_up(lk)
        except NetlinkError as exc:
            raise ValueError(f"failed to set tap interface up: {exc}") from None
    except BaseException:
        drop_link(args.ifname)
        raise
    return {"name": args.ifname, "mac": lk.address or "", "sandbox": args.netns}


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import dad_mode
    from pycni.netlink.netns import netns
    from pycni.plugins import common
    from pycni.spec.result import dns_from_config

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = common.ipam_type(conf)
    common.check_netns(args.netns)
    with netns(args.netns):
        iface = _create(conf, args)
    result = common.attach_l3_or_l2(args, ipam, iface, dad, ndisc=False)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni.plugins.common import delete_attachment, ipam_type

    conf = load_conf(args)
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = load_conf(args)
    common.check_netns(args.netns)
    common.forward("CHECK", common.ipam_type(conf), args)
    result = common.required_prev_result(conf, "Required prevResult missing")
    common.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns(args.netns):
        common.check_ips_routes(args.ifname, result)


def cmd_status(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("STATUS", ipam_type(decode(args)), args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("GC", ipam_type(decode(args)), args)


PLUGIN = Plugin("tap", impl=__name__)  # transitional: moves into a package

