"""`macvlan`: a macvlan child of a host (or, with linkInContainer, container) interface (upstream HEAD).

Recipe: load config (master defaults to the first default route's device; MTU checked against the master's; MAC
from CNI_ARGS `MAC`, then runtimeConfig.mac) -> create the macvlan under a temporary `veth…` name straight into
the container netns -> rename it to CNI_IFNAME -> L3: IPAM ADD, arp_notify/ndisc_notify=1, configure_iface;
L2 (no ipam): set it up. Any failure after creation deletes the link and releases the IP. DEL releases the IP,
then deletes the link, succeeding when the netns or the link is already gone. GC is forwarded to IPAM.

Also home of the small helpers the other link plugins (ipvlan, vlan, tap, dummy, host-device) share.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MODES = {"": 4, "bridge": 4, "private": 1, "vepa": 2, "passthru": 8}  # linux/if_link.h MACVLAN_MODE_*
_MODE_NAMES = {4: "bridge", 1: "private", 2: "vepa", 8: "passthru"}
_RUNTIME_MAC = 'struct { Mac string "json:\\"mac,omitempty\\"" }'


# ---------------------------------------------------------------------------------------------
# Helpers shared by the link plugins


def go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decode_conf(conf: Any, extra: list[tuple[str, Any]], prefix: str) -> dict[str, Any]:
    """Decode the config as the plugin's Go NetConf (types.NetConf plus `extra` fields) with Go's rules;
    errors become ValueError("<prefix>: <Go's text>")."""
    from pycni.spec.godecode import DecodeError, Struct, decode_struct
    from pycni.spec.netconf import NETCONF

    try:
        return decode_struct(conf, Struct("NetConf", NETCONF.fields + extra, "main.NetConf"))
    except DecodeError as exc:
        raise ValueError(f"{prefix}: {exc}") from None


def runtime_mac_field() -> tuple[str, Any]:
    from pycni.spec.godecode import STRING, Struct

    return ("runtimeConfig", ("struct", Struct("", [("mac", STRING)], _RUNTIME_MAC)))


def uint32_field(conf: dict[str, Any], key: str, prefix: str) -> None:
    """Validate a field decoded as RAW into Go's uint32 (in place); ValueError with Go's text otherwise."""
    from pycni.spec.godecode import _json_kind

    if key not in conf:
        return
    v = conf[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{prefix}: json: cannot unmarshal {_json_kind(v)} into Go struct field NetConf.{key} "
                         "of type uint32")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{prefix}: json: cannot unmarshal number {conf[key]!r} into Go struct field "
                         f"NetConf.{key} of type uint32")
    conf[key] = v


def apply_mac_overrides(conf: dict[str, Any], cni_args: str) -> None:
    """CNI_ARGS `MAC` (IgnoreUnknown honoured) then runtimeConfig.mac override conf["mac"]."""
    if cni_args:
        from pycni.spec.args import parse_cni_args

        mac = parse_cni_args(cni_args, ("MAC",)).get("MAC", "")
        if mac:
            conf["mac"] = mac
    rt = conf.get("runtimeConfig") or {}
    if rt.get("mac"):
        conf["mac"] = rt["mac"]


def check_netns(path: str) -> None:
    """GetNS: ValueError('failed to open netns "<p>": <reason>') unless path is a namespace."""
    from pycni.netlink.netns import NetNSError, check_netns_path

    try:
        check_netns_path(path)
    except NetNSError as exc:
        raise ValueError(f"failed to open netns {go_quote(path)}: {exc}") from None


def ipam_type(conf: dict[str, Any]) -> str:
    return (conf.get("ipam") or {}).get("type", "")


def prev_result(conf: dict[str, Any], missing: str) -> dict[str, Any]:
    """prevResult parsed in the config's version and converted to 1.1.0; ValueError(missing) when absent."""
    from pycni.spec.netconf import parse_prev_result
    from pycni.spec.result import convert

    if conf.get("prevResult") is None:
        raise ValueError(missing)
    return convert(parse_prev_result(conf["prevResult"], conf.get("cniVersion", "")), "1.1.0")


def container_iface(result: dict[str, Any], args: CmdArgs, sandbox_text: str) -> dict[str, Any]:
    """The prevResult interface named CNI_IFNAME in CNI_NETNS; ValueError(sandbox_text % (found, netns)) if none."""
    cont: dict[str, Any] = {}
    for intf in result.get("interfaces") or []:
        if intf.get("name") == args.ifname and intf.get("sandbox", "") == args.netns:
            cont = intf
    if cont.get("sandbox", "") != args.netns:
        raise ValueError(sandbox_text % (cont.get("sandbox", ""), args.netns))
    return cont


def lookup_master(name: str, netns_path: str, in_container: bool) -> Any:
    """The master link, looked up here or (linkInContainer) inside netns_path; errors raw ("Link not found")."""
    from pycni.linux.link import link_by_name

    if not in_container:
        return link_by_name(name)
    from pycni.netlink.netns import netns

    check_netns(netns_path)
    with netns(netns_path):
        return link_by_name(name)


def default_master(netns_path: str, in_container: bool) -> str:
    from pycni.linux.linkinfo import default_route_ifname

    if not in_container:
        return default_route_ifname()
    from pycni.netlink.netns import netns

    check_netns(netns_path)
    with netns(netns_path):
        return default_route_ifname()


def create_in_netns(kind: str, args: CmdArgs, payload_for: Any, in_container: bool) -> dict[str, Any]:
    """Create a link under a random temporary name in the container netns (from here with IFLA_NET_NS_FD, or
    from inside it), rename it to CNI_IFNAME, and return its result interface {name, mac, sandbox}.
    payload_for(tmp_name, ns_fd) builds the RTM_NEWLINK payload. Errors carry the reference's texts."""
    import os

    from pycni.linux import link, linkinfo
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError

    tmp = link.random_veth_name()
    fd = linkinfo.open_ns_fd(args.netns)
    try:
        payload = payload_for(tmp, fd)
        try:
            if in_container:
                with netns(args.netns):
                    linkinfo.add_link(payload)
            else:
                linkinfo.add_link(payload)
        except NetlinkError as exc:
            raise ValueError(f"failed to create {kind}: {exc}") from None
    finally:
        os.close(fd)
    with netns(args.netns):
        try:
            linkinfo.rename_link(tmp, args.ifname)
        except NetlinkError as exc:
            try:
                link.link_del(link.link_by_name(tmp))
            except NetlinkError:
                pass
            raise ValueError(f"failed to rename {kind} to {go_quote(args.ifname)}: {exc}") from None
        try:
            lk = link.link_by_name(args.ifname)
        except NetlinkError as exc:
            raise ValueError(f"failed to refetch {kind} {go_quote(args.ifname)}: {exc}") from None
    return {"name": args.ifname, "mac": lk.address or "", "sandbox": args.netns}


def delete_link_quietly(netns_path: str, ifname: str) -> None:
    """Rollback after a failed ADD: remove ifname from the container netns, ignoring every error."""
    try:
        from pycni.linux.link import del_link_by_name
        from pycni.netlink.netns import netns

        with netns(netns_path):
            del_link_by_name(ifname)
    except Exception:
        pass


def release_quietly(ipam: str, args: CmdArgs) -> None:
    if not ipam:
        return
    from pycni import invoke

    try:
        invoke.ipam_call(ipam, "DEL", args)
    except Exception:
        pass


def ipam_ips(ipam: str, args: CmdArgs) -> dict[str, Any]:
    """IPAM ADD; its result (1.1.0) with every IP pointed at interface 0. Releases the IP if it has none."""
    from pycni import invoke

    result = invoke.ipam_add(ipam, args)
    if not result.get("ips"):
        release_quietly(ipam, args)
        raise ValueError("IPAM plugin returned missing IP config")
    for ipc in result["ips"]:
        ipc["interface"] = 0
    return result


def set_notify_sysctls(ifname: str, ndisc: bool = True) -> None:
    """arp_notify (and ndisc_notify) = 1 on ifname in the current netns; errors ignored, as upstream."""
    from pycni.linux import sysctl

    names = [f"net/ipv4/conf/{ifname}/arp_notify"]
    if ndisc:
        names.append(f"net/ipv6/conf/{ifname}/ndisc_notify")
    for name in names:
        try:
            sysctl.set(name, "1")
        except OSError:
            pass


def set_up_l2(ifname: str, shown: str) -> None:
    """L2 attachment: just bring the link up (in the current netns)."""
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    try:
        lk = link.link_by_name(ifname)
    except NetlinkError as exc:
        raise ValueError(f"failed to find interface name {go_quote(shown)}: {exc}") from None
    try:
        link.link_set_up(lk)
    except NetlinkError as exc:
        raise ValueError(f"failed to set {go_quote(ifname)} UP: {exc}") from None


def delete_attachment(args: CmdArgs, ipam: str) -> None:
    """The DEL recipe of macvlan/ipvlan/vlan/tap/dummy: IPAM DEL (if any), then the link, tolerant of both gone."""
    if ipam:
        from pycni import invoke

        invoke.ipam_call(ipam, "DEL", args)
    if args.netns == "":
        return
    from pycni.linux.linkinfo import del_link_in_netns

    if _netns_exists(args.netns):
        del_link_in_netns(args.netns, args.ifname)


def _netns_exists(path: str) -> bool:
    from pycni.netlink.netns import NSPathNotExistError, check_netns_path

    try:
        check_netns_path(path)
    except NSPathNotExistError:
        return False
    except Exception as exc:
        raise ValueError(str(exc)) from None
    return True


def forward(cmd: str, ipam: str, args: CmdArgs) -> None:
    if ipam:
        from pycni import invoke

        invoke.ipam_call(ipam, cmd, args)


def check_ips_routes(ifname: str, result: dict[str, Any], routes: bool = True) -> None:
    """The reference's ValidateExpectedInterfaceIPs (+ ValidateExpectedRoute), in the current netns."""
    from pycni.ipam.configure import check_iface

    if not routes:
        result = dict(result)
        result["routes"] = []
    check_iface(ifname, result)


# ---------------------------------------------------------------------------------------------
# macvlan


def _fields() -> list[tuple[str, Any]]:
    from pycni.spec.godecode import BOOL, INT, RAW, STRING

    return [("master", STRING), ("mode", STRING), ("mtu", INT), ("mac", STRING), ("linkInContainer", BOOL),
            ("bcqueuelen", RAW), runtime_mac_field(), ("dad", STRING)]


def decode(args: CmdArgs, prefix: str = "failed to load netconf") -> dict[str, Any]:
    conf = decode_conf(args.conf, _fields(), prefix)
    uint32_field(conf, "bcqueuelen", prefix)
    return conf


def load_conf(args: CmdArgs) -> dict[str, Any]:
    """loadConf: decode, default master, master MTU bound, MAC overrides (in the reference's order)."""
    conf = decode(args)
    in_cont = bool(conf.get("linkInContainer"))
    if not conf.get("master"):
        conf["master"] = default_master(args.netns, in_cont)
    master_mtu = lookup_master(conf["master"], args.netns, in_cont).mtu or 0
    mtu = conf.get("mtu", 0)
    if mtu < 0 or mtu > master_mtu:
        raise ValueError(f"invalid MTU {mtu}, must be [0, master MTU({master_mtu})]")
    apply_mac_overrides(conf, args.args)
    return conf


def mode_from_string(s: str) -> int:
    if s not in MODES:
        raise ValueError(f"unknown macvlan mode: {go_quote(s)}")
    return MODES[s]


def _create(conf: dict[str, Any], args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import linkinfo
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError

    mode = mode_from_string(conf.get("mode", ""))
    in_cont = bool(conf.get("linkInContainer"))
    try:
        master = lookup_master(conf["master"], args.netns, in_cont)
    except NetlinkError as exc:
        raise ValueError(f"failed to lookup master {go_quote(conf['master'])}: {exc}") from None
    mac = conf.get("mac") or None
    if mac:
        try:
            c.parse_mac(mac)
        except c.CodecError as exc:
            raise ValueError(f"invalid args {mac} for MAC addr: {exc}") from None

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.macvlan_payload(tmp, master.index, mode, mtu=conf.get("mtu", 0), mac=mac, ns_fd=fd,
                                        bcqueuelen=conf.get("bcqueuelen", 0))

    return create_in_netns("macvlan", args, payload, in_cont)


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import configure_iface
    from pycni.netlink.netns import netns
    from pycni.plugins.main.ptp import dad_mode
    from pycni.spec.result import dns_from_config

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    iface = _create(conf, args)
    result: dict[str, Any] = {"cniVersion": "1.1.0", "interfaces": [iface]}
    ipam_done = False
    try:
        if ipam:
            ipam_result = ipam_ips(ipam, args)
            ipam_done = True
            result["ips"] = ipam_result["ips"]
            if ipam_result.get("routes"):
                result["routes"] = ipam_result["routes"]
            with netns(args.netns):
                set_notify_sysctls(args.ifname)
                configure_iface(args.ifname, result, dad=dad)
        else:
            with netns(args.netns):
                set_up_l2(args.ifname, iface["name"])
    except BaseException:
        if ipam_done:
            release_quietly(ipam, args)
        delete_link_quietly(args.netns, args.ifname)
        raise
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = decode(args, "failed to load netConf")
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError

    conf = load_conf(args)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    forward("CHECK", ipam, args)
    result = prev_result(conf, "required prevResult missing")
    cont = container_iface(result, args, "sandbox in prevResult %s doesn't match configured netns: %s")
    try:
        lookup_master(conf["master"], args.netns, bool(conf.get("linkInContainer")))
    except NetlinkError as exc:
        raise ValueError(f"failed to lookup master {go_quote(conf['master'])}: {exc}") from None
    with netns(args.netns):
        _validate_container_interface(cont, conf.get("mode", ""))
        check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: dict[str, Any], mode_expected: str) -> None:
    from pycni.linux import linkinfo
    from pycni.netlink.socket import NetlinkError

    name = intf.get("name", "")
    if name == "":
        raise ValueError(f"container interface name missing in prevResult: {name}")
    try:
        d = linkinfo.link_detail(name)
    except NetlinkError:
        raise ValueError(f"container Interface name in prevResult: {name} not found") from None
    if not intf.get("sandbox"):
        raise ValueError(f"error: Container interface {d.link.name} should not be in host namespace")
    if d.kind != "macvlan":
        raise ValueError(f"error: Container interface {d.link.name} not of type macvlan")
    want = mode_from_string(mode_expected)
    have = linkinfo.u32(d.data, linkinfo.IFLA_MACVLAN_MODE) or 0
    if have != want:
        if have not in _MODE_NAMES:
            raise ValueError(f"unknown macvlan mode: {have}")
        raise ValueError(f"container macvlan mode {_MODE_NAMES[have]} does not match expected value: "
                         f"{_MODE_NAMES[want]}")
    if intf.get("mac") and intf["mac"] != (d.link.address or ""):
        raise ValueError(f"interface {name} Mac {intf['mac']} doesn't match container Mac: {d.link.address or ''}")


def cmd_status(args: CmdArgs) -> None:
    conf = decode(args)
    forward("STATUS", ipam_type(conf), args)


def cmd_gc(args: CmdArgs) -> None:
    conf = decode(args)
    forward("GC", ipam_type(conf), args)


PLUGIN = Plugin("macvlan", add=cmd_add, delete=cmd_del, check=cmd_check, gc=cmd_gc, status=cmd_status)


def main() -> None:
    from pycni.skel import main as skel_main

    skel_main(PLUGIN)


if __name__ == "__main__":
    main()
