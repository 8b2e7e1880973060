"""Helpers the plugins share: Go-style config decoding, MAC overrides, netns checks, prevResult parsing, and the link
plugins' recipe steps (master lookup, create-and-rename, IPAM ADD with rollback, DEL, container-interface CHECK).
Imported lazily inside command handlers and importing nothing at module level, so plugin start-up stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pycni.linux.linkinfo import LinkDetail
    from pycni.netlink.codec import Link
    from pycni.skel import CmdArgs

def nl_call(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run one netlink verb; a kernel error becomes upstream's `<what>: <err>` plugin error (999)."""
    from pycni.netlink.socket import NetlinkError

    try:
        return fn(*args)
    except NetlinkError as exc:
        raise ValueError(f"{what}: {exc}") from None


_RUNTIME_MAC = 'struct { Mac string "json:\\"mac,omitempty\\"" }'
PREV_PARSE_TEXT = "could not parse prevResult"
PREV_CONVERT_TEXT = "could not convert result to current version"


# ---------------------------------------------------------------------------------------------
# Configuration


def go_quote(s: str) -> str:
    """Go's %q for the interface names and paths the link plugins quote (only `\\` and `"` escaped)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _verbatim_quote(s: str) -> str:
    return f'"{s}"'


def decode_conf(conf: Any, extra: list[tuple[str, Any]], prefix: str, struct: str = "NetConf") -> dict[str, Any]:
    """Decode the config as the plugin's Go struct `main.<struct>` (types.NetConf plus `extra` fields) with Go's
    rules; errors become ValueError("<prefix>: <Go's text>")."""
    from pycni.spec.godecode import DecodeError, Struct, decode_struct
    from pycni.spec.netconf import NETCONF

    try:
        return decode_struct(conf, Struct(struct, NETCONF.fields + extra, f"main.{struct}"))
    except DecodeError as exc:
        raise ValueError(f"{prefix}: {exc}") from None


def runtime_mac_field() -> tuple[str, Any]:
    """The `runtimeConfig` field of plugins whose runtime config is just `mac`."""
    from pycni.spec.godecode import STRING, Struct

    return ("runtimeConfig", ("struct", Struct("", [("mac", STRING)], _RUNTIME_MAC)))


def uint32_field(conf: dict[str, Any], key: str, prefix: str) -> None:
    """Validate a field decoded as RAW into Go's uint32 (in place); ValueError with Go's text otherwise."""
    from pycni.spec.godecode import json_kind

    if key not in conf:
        return
    v = conf[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{prefix}: json: cannot unmarshal {json_kind(v)} into Go struct field NetConf.{key} "
                         "of type uint32")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{prefix}: json: cannot unmarshal number {conf[key]!r} into Go struct field "
                         f"NetConf.{key} of type uint32")
    conf[key] = v


def mac_override(cni_args: str, *later: str | None) -> str:
    """The MAC the runtime asks for: CNI_ARGS `MAC` (IgnoreUnknown honoured), then each non-empty value of
    `later` in turn wins; "" when none is set."""
    mac = ""
    if cni_args:
        from pycni.spec.args import parse_cni_args

        mac = parse_cni_args(cni_args, ("MAC",)).get("MAC", "") or mac
    for value in later:
        mac = value or mac
    return mac


def apply_mac_overrides(conf: dict[str, Any], cni_args: str) -> None:
    """CNI_ARGS `MAC`, then runtimeConfig.mac, override conf["mac"] (left as it is when neither is set)."""
    mac = mac_override(cni_args, (conf.get("runtimeConfig") or {}).get("mac"))
    if mac:
        conf["mac"] = mac


def check_mac_arg(mac: str | None) -> None:
    """A MAC given by config or runtime must parse: ValueError("invalid args <mac> for MAC addr: ...")."""
    if not mac:
        return
    from pycni.netlink import codec as c

    try:
        c.parse_mac(mac)
    except c.CodecError as exc:
        raise ValueError(f"invalid args {mac} for MAC addr: {exc}") from None


def ipam_type(conf: dict[str, Any]) -> str:
    return (conf.get("ipam") or {}).get("type", "")


# ---------------------------------------------------------------------------------------------
# Namespaces


def check_netns(path: str, verbatim: bool = False) -> None:
    """GetNS: ValueError('failed to open netns "<p>": <reason>') unless path is a namespace. The path is quoted
    as Go's %q; `verbatim` (ptp, bridge) puts it between quotes as it is."""
    from pycni.netlink.netns import NetNSError, check_netns_path

    try:
        check_netns_path(path)
    except NetNSError as exc:
        quoted = _verbatim_quote(path) if verbatim else go_quote(path)
        raise ValueError(f"failed to open netns {quoted}: {exc}") from None


def netns_present(path: str, wrap: bool = False) -> bool:
    """DEL's test of CNI_NETNS: False when it is empty or names no namespace (what was in it is gone); any other
    error is a ValueError with its text, or with `wrap` 'failed to open netns "<p>": <text>'."""
    if path == "":
        return False
    from pycni.netlink.netns import NSPathNotExistError, check_netns_path

    try:
        check_netns_path(path)
    except NSPathNotExistError:
        return False
    except Exception as exc:
        raise ValueError(f"failed to open netns {go_quote(path)}: {exc}" if wrap else str(exc)) from None
    return True


# ---------------------------------------------------------------------------------------------
# prevResult


def load_prev_result(conf: dict[str, Any], *, inject_version: bool = True, parse_text: str = PREV_PARSE_TEXT,
                     convert_text: str = PREV_CONVERT_TEXT) -> tuple[Any, Any]:
    """(prevResult parsed in the config's version, the same converted to 1.1.0), (None, None) without one.
    Parsed as version.ParsePrevResult does (the config's version injected), or without `inject_version` as
    a plain result; errors become ValueError("<parse_text>: ...") / ValueError("<convert_text>: ...")."""
    if conf.get("prevResult") is None:
        return None, None
    from pycni.spec.result import ResultError, convert

    if inject_version:
        from pycni.spec.netconf import parse_prev_result as parse
    else:
        from pycni.spec.result import parse  # type: ignore[assignment]
    try:
        prev = parse(conf["prevResult"], conf.get("cniVersion", ""))
    except ResultError as exc:
        raise ValueError(f"{parse_text}: {exc}") from None
    try:
        return prev, convert(prev, "1.1.0")  # type: ignore[arg-type]
    except ResultError as exc:
        raise ValueError(f"{convert_text}: {exc}") from None


def required_prev_result(conf: dict[str, Any], missing: str) -> dict[str, Any]:
    """CHECK's prevResult: parsed in the config's version and converted to 1.1.0; ValueError(missing) when
    absent, the parse/convert error's own text otherwise."""
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


# ---------------------------------------------------------------------------------------------
# CHECK: the container interface (the reference's validateCintf, whose texts vary by plugin)


def _styled(text: str, lower: bool) -> str:
    return text[0].lower() + text[1:] if lower else text


def container_link(intf: dict[str, Any], kind: str | None = None, *, tag: str = "", lower: bool = False,
                   kind_text: str | None = None) -> LinkDetail:
    """The prevResult interface has a name, exists in the current netns, is in a sandbox and (with `kind`) is a
    link of that kind. `tag` ("vlan: ") prefixes the texts the reference prefixes (not found, host namespace);
    `lower` lower-cases the first letter of every text (macvlan); `kind_text` names the kind in its text."""
    from pycni.linux import linkinfo
    from pycni.netlink.socket import NetlinkError

    name = intf.get("name", "")
    if name == "":
        raise ValueError(_styled(f"Container interface name missing in prevResult: {name}", lower))
    try:
        d = linkinfo.link_detail(name)
    except NetlinkError:
        raise ValueError(tag + _styled(f"Container Interface name in prevResult: {name} not found", lower)) from None
    if not intf.get("sandbox"):
        raise ValueError(tag + _styled(f"Error: Container interface {d.link.name} should not be in host namespace",
                                       lower))
    if kind is not None and d.kind != kind:
        raise ValueError(_styled(f"Error: Container interface {d.link.name} not of type {kind_text or kind}", lower))
    return d


def check_container_mac(intf: dict[str, Any], lk: Link, *, tag: str = "", lower: bool = False) -> None:
    """The prevResult MAC (when given) is the link's, compared as text."""
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(tag + _styled(f"Interface {intf['name']} Mac {intf['mac']} doesn't match container Mac: "
                                       f"{lk.address or ''}", lower))


def check_ips_routes(ifname: str, result: dict[str, Any], routes: bool = True) -> None:
    """The reference's ValidateExpectedInterfaceIPs (+ ValidateExpectedRoute), in the current netns."""
    from pycni.ipam.configure import check_iface

    if not routes:
        result = dict(result)
        result["routes"] = []
    check_iface(ifname, result)


# ---------------------------------------------------------------------------------------------
# Link plugins: master, creation, rollback


def lookup_master(name: str, netns_path: str, in_container: bool) -> Link:
    """The master link, looked up here or (linkInContainer) inside netns_path; errors raw ("Link not found")."""
    from pycni.linux.link import link_by_name

    if not in_container:
        return link_by_name(name)
    from pycni.netlink.netns import netns

    check_netns(netns_path)
    with netns(netns_path):
        return link_by_name(name)


def find_master(conf: dict[str, Any], netns_path: str) -> Link:
    """lookup_master for conf["master"] (linkInContainer honoured), netlink errors as
    ValueError('failed to lookup master "<m>": <err>')."""
    from pycni.netlink.socket import NetlinkError

    name = conf.get("master", "")
    try:
        return lookup_master(name, netns_path, bool(conf.get("linkInContainer")))
    except NetlinkError as exc:
        raise ValueError(f"failed to lookup master {go_quote(name)}: {exc}") from None


def check_master_mtu(conf: dict[str, Any], netns_path: str) -> None:
    """conf["mtu"] must lie in [0, the master's MTU] (the master looked up raw)."""
    master_mtu = lookup_master(conf["master"], netns_path, bool(conf.get("linkInContainer"))).mtu or 0
    mtu = conf.get("mtu", 0)
    if mtu < 0 or mtu > master_mtu:
        raise ValueError(f"invalid MTU {mtu}, must be [0, master MTU({master_mtu})]")


def default_master(netns_path: str, in_container: bool) -> str:
    from pycni.linux.linkinfo import default_route_ifname

    if not in_container:
        return default_route_ifname()
    from pycni.netlink.netns import netns

    check_netns(netns_path)
    with netns(netns_path):
        return default_route_ifname()


def drop_link(name: str) -> None:
    """Delete link `name` of the current netns if it can; netlink errors ignored."""
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    try:
        link.link_del(link.link_by_name(name))
    except NetlinkError:
        pass


def rename_temp_link(kind: str, tmp: str, ifname: str) -> Link:
    """In the current netns: rename the freshly made `tmp` to CNI_IFNAME (deleting it when that fails) and
    read it back."""
    from pycni.linux import link, linkinfo
    from pycni.netlink.socket import NetlinkError

    try:
        linkinfo.rename_link(tmp, ifname)
    except NetlinkError as exc:
        drop_link(tmp)
        raise ValueError(f"failed to rename {kind} to {go_quote(ifname)}: {exc}") from None
    try:
        return link.link_by_name(ifname)
    except NetlinkError as exc:
        raise ValueError(f"failed to refetch {kind} {go_quote(ifname)}: {exc}") from None


def create_in_netns(kind: str, args: CmdArgs, payload_for: Callable[[str, int], bytes],
                    in_container: bool) -> dict[str, Any]:
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
        lk = rename_temp_link(kind, tmp, args.ifname)
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
    """Rollback after a failed ADD: IPAM DEL (when there is an IPAM plugin), ignoring its errors."""
    if not ipam:
        return
    from pycni import invoke

    try:
        invoke.ipam_call(ipam, "DEL", args)
    except Exception:
        pass


def ipam_ips(ipam: str, args: CmdArgs, wrap: str | None = None) -> dict[str, Any]:
    """IPAM ADD; its result (1.1.0) with every IP pointed at interface 0. Releases the IP if it has none.
    With `wrap`, the delegate's error becomes ValueError("<wrap>: <err>")."""
    from pycni import invoke
    from pycni.spec.errors import CNIError

    try:
        result = invoke.ipam_add(ipam, args)
    except CNIError as exc:
        if wrap is None:
            raise
        raise ValueError(f"{wrap}: {exc}") from None
    if not result.get("ips"):
        release_quietly(ipam, args)
        raise ValueError("IPAM plugin returned missing IP config")
    for ipc in result["ips"]:
        ipc["interface"] = 0
    return result


class AddRollback:
    """`with AddRollback(args, ipam) as rb:` around the steps of an ADD after the link exists: when one fails, the
    IPAM lease taken through rb.ipam_add() is released and the link undone (by default CNI_IFNAME is deleted
    from the container netns), all errors of the undo ignored; the failure itself propagates."""

    __slots__ = ("args", "ipam", "ipam_done", "undo")

    def __init__(self, args: CmdArgs, ipam: str, undo: Callable[[], None] | None = None) -> None:
        self.args = args
        self.ipam = ipam
        self.ipam_done = False
        self.undo = undo

    def ipam_add(self, wrap: str | None = None) -> dict[str, Any]:
        result = ipam_ips(self.ipam, self.args, wrap)
        self.ipam_done = True
        return result

    def __enter__(self) -> AddRollback:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            return
        if self.ipam_done:
            release_quietly(self.ipam, self.args)
        if self.undo is None:
            delete_link_quietly(self.args.netns, self.args.ifname)
        else:
            self.undo()


def attach_l3_or_l2(args: CmdArgs, ipam: str, iface: dict[str, Any], dad: str, ndisc: bool = True) -> dict[str, Any]:
    """The rest of a macvlan/tap ADD once the link is CNI_IFNAME in the container: with IPAM (L3), IPAM ADD, the
    notify sysctls (arp, and with `ndisc` ndisc) and configure_iface; without (L2), the link set up. Rolled back
    on failure (AddRollback). Returns the result (cniVersion, interfaces, ips, routes)."""
    from pycni.ipam.configure import configure_iface
    from pycni.netlink.netns import netns

    result: dict[str, Any] = {"cniVersion": "1.1.0", "interfaces": [iface]}
    with AddRollback(args, ipam) as rb:
        if ipam:
            ipam_result = rb.ipam_add()
            result["ips"] = ipam_result["ips"]
            if ipam_result.get("routes"):
                result["routes"] = ipam_result["routes"]
            with netns(args.netns):
                set_notify_sysctls(args.ifname, ndisc=ndisc)
                configure_iface(args.ifname, result, dad=dad)
        else:
            with netns(args.netns):
                set_up_l2(args.ifname, iface["name"])
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

    lk = nl_call(f"failed to find interface name {go_quote(shown)}", link.link_by_name, ifname)
    nl_call(f"failed to set {go_quote(ifname)} UP", link.link_set_up, lk)


# ---------------------------------------------------------------------------------------------
# DEL and the commands forwarded to IPAM


def delete_attachment(args: CmdArgs, ipam: str) -> None:
    """The DEL recipe of macvlan/ipvlan/vlan/tap/dummy: IPAM DEL (if any), then the link, tolerant of both gone."""
    forward("DEL", ipam, args)
    if netns_present(args.netns):
        from pycni.linux.linkinfo import del_link_in_netns

        del_link_in_netns(args.netns, args.ifname)


def forward(cmd: str, ipam: str, args: CmdArgs) -> None:
    """Delegate `cmd` to the IPAM plugin, when there is one."""
    if ipam:
        from pycni import invoke

        invoke.ipam_call(ipam, cmd, args)
