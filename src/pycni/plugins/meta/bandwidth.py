"""`bandwidth`: rate-limit a veth-attached container with tbf (upstream HEAD), both directions.

Recipe: decode the limits (top-level keys win, else runtimeConfig.bandwidth) -> find the host end of the
container's veth in prevResult -> ingress (towards the container): tbf root 1: on the host veth; egress (from
the container): ifb `bwp<hash>` (up, host-veth MTU, txqueuelen 0), ingress qdisc ffff: on the host veth with a
match-all u32 filter redirecting to the ifb (two mirred actions, stolen then pass, as upstream's library adds
both), tbf root 1: on the ifb; the ifb is appended to the result. DEL deletes the ifb; CHECK compares the tbfs.

pycni extension (upstream had it in v1.5.x, then reverted it; without these keys nothing differs from HEAD):
`unshapedSubnets` / `shapedSubnets` (CIDR lists, mutually exclusive, in the chosen entry or at top level).
Each shaped device then gets htb 1: with two unlimited classes: 1:1 holds pfifo 10: (limit 1000) for
unshaped traffic, 1:2 holds HEAD's tbf as 20: for shaped traffic. u32 filters send the listed subnets to
their class; the htb default sends everything else to the other one. (htb rather than prio: not every kernel
has sch_prio, this one does not.)
The subnet is the peer's address: the source for ingress, the destination for egress (v1.5 matched the
destination in both directions, i.e. the container's own address for ingress).

Deliberate differences from upstream: ADD with nothing to shape and no prevResult is an error
("must be called as chained plugin"; upstream panics); netns errors name the path (upstream prints a nil
handle); CHECK requires the tbf (upstream passes when the first qdisc listed is not a tbf) and the redirect
filter to the ifb; a rate under 8 bit/s is rejected (upstream divides by zero).
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin
from pycni.spec.version import ALL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IFB_PREFIX = "bwp"
IFB_NAME_LEN = 15
UINT32_MAX = 0xFFFFFFFF

RATE_KEYS = ("ingressRate", "ingressBurst", "egressRate", "egressBurst")
SUBNET_KEYS = ("unshapedSubnets", "shapedSubnets")

# Handles of the pycni subnet mode (htb + pfifo + tbf).
HTB_HANDLE = 0x10000  # 1:
UNSHAPED_CLASS = 0x10001  # 1:1
SHAPED_CLASS = 0x10002  # 1:2
UNLIMITED = 12_500_000_000  # bytes/s (100 Gbit/s): the htb classes never limit, the tbf does
HTB_BURST = 200_000  # bytes of buffer for the unlimited classes
HTB_QUANTUM = 60_000
PFIFO_HANDLE = 0x100000  # 10:
TBF_CHILD_HANDLE = 0x200000  # 20:
PFIFO_LIMIT = 1000
FILTER_PRIO_V4 = 16
FILTER_PRIO_V6 = 15


class Bandwidth:
    """One direction pair of limits (bits/s and bits) plus the pycni subnet lists."""

    __slots__ = ("ingress_rate", "ingress_burst", "egress_rate", "egress_burst", "unshaped", "shaped")

    def __init__(self, ingress_rate: int = 0, ingress_burst: int = 0, egress_rate: int = 0, egress_burst: int = 0,
                 unshaped: list[str] | None = None, shaped: list[str] | None = None) -> None:
        self.ingress_rate = ingress_rate
        self.ingress_burst = ingress_burst
        self.egress_rate = egress_rate
        self.egress_burst = egress_burst
        self.unshaped = unshaped or []
        self.shaped = shaped or []

    def is_zero(self) -> bool:
        return not (self.ingress_rate or self.ingress_burst or self.egress_rate or self.egress_burst)

    @property
    def ingress(self) -> bool:
        return self.ingress_rate > 0 and self.ingress_burst > 0

    @property
    def egress(self) -> bool:
        return self.egress_rate > 0 and self.egress_burst > 0

    @property
    def subnets(self) -> list[str]:
        return self.unshaped or self.shaped

    def __repr__(self) -> str:
        return (f"Bandwidth(in={self.ingress_rate}/{self.ingress_burst}, out={self.egress_rate}/{self.egress_burst}, "
                f"unshaped={self.unshaped}, shaped={self.shaped})")


# ---------------------------------------------------------------------------------------------
# Configuration


def _conf_struct() -> Any:
    from pycni.spec.godecode import RAW, Struct
    from pycni.spec.netconf import NETCONF

    runtime = Struct("", [("bandwidth", RAW)], 'struct { Bandwidth *main.BandwidthEntry "json:\\"bandwidth,omitempty\\"" }')
    return Struct("PluginConf", NETCONF.fields + [("runtimeConfig", ("struct", runtime))]
                  + [(k, RAW) for k in RATE_KEYS + SUBNET_KEYS], "main.PluginConf")


def _json_kind(v: Any) -> str:
    """Go's UnmarshalTypeError value text for a uint64 field: numbers as written ("number 1e3")."""
    from pycni.spec.godecode import json_kind, number_text

    kind = json_kind(v)
    return f"number {number_text(v)}" if kind == "number" else kind


def _uint64(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ValueError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where} of type uint64")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where} of type []string")
    for item in value:
        if item is not None and not isinstance(item, str):
            raise ValueError(f"json: cannot unmarshal {_json_kind(item)} into Go struct field {where} of type string")
    return [item or "" for item in value]


def _folded(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    """Go's field lookup: the exact key, else the last case-insensitive match (present?, value)."""
    if key in obj:
        return True, obj[key]
    found, value = False, None
    for k, v in obj.items():
        if k.casefold() == key.casefold():
            found, value = True, v
    return found, value


def _entry(obj: dict[str, Any], struct_name: str, path: str) -> Bandwidth:
    vals = {}
    for k in RATE_KEYS:
        vals[k] = _uint64(_folded(obj, k)[1], f"{struct_name}.{path}{k}")
    subnets = {k: _strings(_folded(obj, k)[1], f"{struct_name}.{path}{k}") for k in SUBNET_KEYS}
    return Bandwidth(vals["ingressRate"], vals["ingressBurst"], vals["egressRate"], vals["egressBurst"],
                     subnets["unshapedSubnets"], subnets["shapedSubnets"])


def validate_rate_and_burst(rate: int, burst: int) -> None:
    if burst == 0 and rate != 0:
        raise ValueError("if rate is set, burst must also be set")
    if rate == 0 and burst != 0:
        raise ValueError("if burst is set, rate must also be set")
    if burst // 8 >= UINT32_MAX:
        raise ValueError("burst cannot be more than 4GB")


def validate_subnets(bw: Bandwidth) -> None:
    from pycni.spec import ipnet

    if bw.unshaped and bw.shaped:
        raise ValueError("unshapedSubnets and shapedSubnets cannot be both specified, one of them should be discarded")
    for s in bw.unshaped + bw.shaped:
        try:
            ipnet.parse_cidr(s)
        except ipnet.CIDRError as exc:
            raise ValueError(f"bad subnet {_go_quote(s)} provided, details {exc}") from None


def _go_quote(s: str) -> str:
    from pycni.spec.version import go_quote

    return go_quote(s)


class Conf:
    __slots__ = ("raw", "name", "version", "bandwidth", "prev")

    def __init__(self, raw: dict[str, Any], bandwidth: Bandwidth | None, prev: dict[str, Any] | None) -> None:
        self.raw = raw
        self.name: str = raw.get("name", "")
        self.version: str = raw.get("cniVersion", "")
        self.bandwidth = bandwidth
        self.prev = prev


def parse_config(conf: Any) -> Conf:
    """Decode, pick the limits (any top-level rate/burst key => the top-level entry, as Go allocates the
    embedded pointer; else runtimeConfig.bandwidth), validate them, parse prevResult."""
    from pycni.plugins.common import load_prev_result
    from pycni.spec.godecode import DecodeError, decode_struct

    try:
        raw = decode_struct(conf, _conf_struct())
        top_present = any(_folded(conf, k)[0] for k in RATE_KEYS)
        top = _entry(conf, "PluginConf", "") if isinstance(conf, dict) else Bandwidth()
        rt_raw = (raw.get("runtimeConfig") or {}).get("bandwidth")
        if rt_raw is not None and not isinstance(rt_raw, dict):
            raise ValueError(f"json: cannot unmarshal {_json_kind(rt_raw).split(' ')[0]} into Go struct field "
                             ".runtimeConfig.bandwidth of type main.BandwidthEntry")
        runtime = _entry(rt_raw, "BandwidthEntry", "runtimeConfig.bandwidth.") if rt_raw is not None else None
    except (DecodeError, ValueError) as exc:
        raise ValueError(f"failed to parse network configuration: {exc}") from None
    bw: Bandwidth | None = None
    if top_present:
        bw = top
    elif runtime is not None:
        bw = runtime
        if not bw.subnets:  # operator-set subnet lists at top level apply to runtime-given limits
            bw.unshaped, bw.shaped = top.unshaped, top.shaped
    elif top.subnets:
        bw = top
    if bw is not None:
        validate_rate_and_burst(bw.ingress_rate, bw.ingress_burst)
        validate_rate_and_burst(bw.egress_rate, bw.egress_burst)
    prev, _ = load_prev_result(raw)
    return Conf(raw, bw, prev)


def ifb_name(network: str, container_id: str) -> str:
    """"bwp" + hex(sha512(network name + container ID)), 15 characters."""
    import hashlib

    return (IFB_PREFIX + hashlib.sha512((network + container_id).encode()).hexdigest())[:IFB_NAME_LEN]


# ---------------------------------------------------------------------------------------------
# Host side


def _check_netns(path: str) -> None:
    from pycni.netlink.netns import NetNSError, check_netns_path

    try:
        check_netns_path(path)
    except NetNSError as exc:
        raise ValueError(f"failed to open netns {_go_quote(path)}: {exc}") from None


def veth_peer_index(ifname: str) -> int:
    """GetVethPeerIfindex, in the current (container) namespace: the veth's IFLA_LINK."""
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    try:
        lk = link.link_by_name(ifname)
    except NetlinkError as exc:
        raise ValueError(f"could not look up {_go_quote(ifname)}: {exc}") from None
    if lk.kind != "veth":
        raise ValueError(f"interface {_go_quote(ifname)} was not a veth interface")
    return lk.link or 0


def host_interface(interfaces: list[dict[str, Any]], ifname: str, netns_path: str) -> dict[str, Any]:
    """The prevResult interface (no sandbox) that is the host end of the container's veth."""
    from pycni.linux import link
    from pycni.netlink.netns import NetNSError, netns
    from pycni.netlink.socket import NetlinkError

    if not interfaces:
        raise ValueError("no interfaces provided")
    peer, err = 0, "<nil>"
    try:
        with netns(netns_path):
            try:
                peer = veth_peer_index(ifname)
            except ValueError as exc:
                err = str(exc)
    except NetNSError:
        pass
    if peer <= 0:
        raise ValueError(f"container interface {ifname} has no veth peer: {err}")
    try:
        host = link.link_by_index(peer)
    except NetlinkError:
        raise ValueError(f"veth peer with index {peer} is not in host ns") from None
    for iface in interfaces:
        if not iface.get("sandbox") and iface.get("name") == host.name:
            return iface
    raise ValueError("no veth peer of container interface found in host ns")


def _link(name: str, what: str) -> Any:
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    try:
        return link.link_by_name(name)
    except NetlinkError as exc:
        raise ValueError(f"get {what} device: {exc}") from None


def _nl_error(prefix: str, exc: Exception) -> ValueError:
    return ValueError(f"{prefix}{exc}")


def shape_device(index: int, rate_bits: int, burst_bits: int, bw: Bandwidth, source_match: bool,
                 err_prefix: str = "") -> None:
    """Put the shaper on a device's root: a tbf (HEAD), or htb + pfifo + tbf with subnet filters (pycni)."""
    from pycni.linux import tc
    from pycni.netlink.socket import NetlinkError

    params = tc.tbf_params(rate_bits, burst_bits)
    if not bw.subnets:
        try:
            tc.qdisc_add(tc.pack_tbf_qdisc(index, params))
        except NetlinkError as exc:
            raise _nl_error(f"{err_prefix}create qdisc: ", exc) from None
        return
    shaped_default = bool(bw.unshaped)
    target = UNSHAPED_CLASS if shaped_default else SHAPED_CLASS
    default = (SHAPED_CLASS if shaped_default else UNSHAPED_CLASS) & 0xFFFF
    big = tc.tbf_params(UNLIMITED * 8, HTB_BURST * 8)
    try:
        tc.qdisc_add(tc.pack_htb_qdisc(index, default, HTB_HANDLE))
        for classid in (UNSHAPED_CLASS, SHAPED_CLASS):
            tc.class_add(tc.pack_htb_class(index, classid, HTB_HANDLE, UNLIMITED, big.buffer, HTB_QUANTUM))
        tc.qdisc_add(tc.pack_pfifo_qdisc(index, PFIFO_LIMIT, PFIFO_HANDLE, UNSHAPED_CLASS))
        tc.qdisc_add(tc.pack_tbf_qdisc(index, params, TBF_CHILD_HANDLE, SHAPED_CLASS))
    except NetlinkError as exc:
        raise _nl_error(f"{err_prefix}create qdisc: ", exc) from None
    for cidr in bw.subnets:
        proto, keys = tc.subnet_keys(cidr, source_match)
        prio = FILTER_PRIO_V4 if proto == tc.ETH_P_IP else FILTER_PRIO_V6
        try:
            tc.filter_add(tc.pack_u32_filter(index, HTB_HANDLE, prio, proto, keys=keys, classid=target))
        except NetlinkError as exc:
            raise _nl_error(f"{err_prefix}add subnet filter for {cidr}: ", exc) from None


def create_ingress(host_name: str, bw: Bandwidth) -> None:
    dev = _link(host_name, "host")
    shape_device(dev.index, bw.ingress_rate, bw.ingress_burst, bw, source_match=True)


def create_ifb(name: str, mtu: int) -> Any:
    from pycni.linux import link, tc
    from pycni.netlink.socket import NetlinkError

    try:
        tc.add_ifb(name, mtu)
    except NetlinkError as exc:
        raise ValueError(f"adding link: {exc}") from None
    return link.link_by_name(name)


def redirect_actions(ifb_index: int) -> list[Any]:
    """Upstream's filter carries the library's implicit redirect (stolen) and its explicit one (pass)."""
    from pycni.linux import tc

    return [tc.Mirred(tc.TCA_EGRESS_REDIR, ifb_index, tc.TC_ACT_STOLEN),
            tc.Mirred(tc.TCA_EGRESS_REDIR, ifb_index, tc.TC_ACT_OK)]


def create_egress(host_name: str, ifb: str, bw: Bandwidth) -> None:
    from pycni.linux import tc
    from pycni.netlink.socket import NetlinkError

    ifb_dev = _link(ifb, "ifb")
    host = _link(host_name, "host")
    try:
        tc.qdisc_add(tc.pack_ingress_qdisc(host.index))
    except NetlinkError as exc:
        raise ValueError(f"create ingress qdisc: {exc}") from None
    try:
        tc.filter_add(tc.pack_u32_filter(host.index, tc.INGRESS_HANDLE, 1, tc.ETH_P_ALL, classid=tc.handle(1, 1),
                                         actions=redirect_actions(ifb_dev.index)))
    except NetlinkError as exc:
        raise ValueError(f"add filter: {exc}") from None
    shape_device(ifb_dev.index, bw.egress_rate, bw.egress_burst, bw, source_match=False,
                 err_prefix="create ifb qdisc: ")


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_add(args: CmdArgs) -> dict[str, Any] | None:
    from pycni.spec.result import convert

    conf = parse_config(args.conf)
    bw = conf.bandwidth
    if bw is None or bw.is_zero():
        if conf.prev is None:
            raise ValueError("must be called as chained plugin")
        return conf.prev
    validate_subnets(bw)
    if conf.prev is None:
        raise ValueError("must be called as chained plugin")
    result = dict(convert(conf.prev, "1.1.0"))
    _check_netns(args.netns)
    host = host_interface(result.get("interfaces") or [], args.ifname, args.netns)
    if bw.ingress:
        create_ingress(host["name"], bw)
    if bw.egress:
        mtu = _link_raw(host["name"]).mtu
        name = ifb_name(conf.name, args.container_id)
        ifb = create_ifb(name, mtu)
        result["interfaces"] = list(result.get("interfaces") or []) + [{"name": name, "mac": ifb.address or ""}]
        create_egress(host["name"], name, bw)
    return result


def _link_raw(name: str) -> Any:
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    try:
        return link.link_by_name(name)
    except NetlinkError as exc:
        raise ValueError(str(exc)) from None


def cmd_del(args: CmdArgs) -> None:
    from pycni.linux import link
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError

    conf = parse_config(args.conf)
    name = ifb_name(conf.name, args.container_id)
    try:
        lk = link.link_by_name(name)
    except LinkNotFoundError:
        return
    except NetlinkError as exc:
        raise ValueError(f"failed to lookup {_go_quote(name)}: {exc}") from None
    try:
        link.link_del(lk)
    except LinkNotFoundError:
        return
    except NetlinkError as exc:
        raise ValueError(f"failed to delete {_go_quote(name)}: {exc}") from None


def check_device(index: int, name: str, rate_bits: int, burst_bits: int, bw: Bandwidth) -> None:
    """The device's shaper: a tbf with the expected rate/limit/buffer (under htb class 1:2 in subnet mode)."""
    from pycni.linux import tc

    want = tc.tbf_params(rate_bits, burst_bits)
    qdiscs = [q for q in tc.qdisc_list(index) if q.kind != "pfifo_fast"]
    if not qdiscs:
        raise ValueError("Failed to find qdisc")
    if bw.subnets:
        root = [q for q in qdiscs if q.parent == tc.TC_H_ROOT]
        if not root or root[0].kind != "htb":
            raise ValueError(f"Failed to find htb qdisc for subnet shaping on {name}")
        tbfs = [q for q in qdiscs if q.tbf is not None and q.parent == SHAPED_CLASS]
    else:
        tbfs = [q for q in qdiscs if q.tbf is not None and q.parent == tc.TC_H_ROOT]
    if not tbfs:
        raise ValueError("Failed to find qdisc")
    got = tbfs[0].tbf
    assert got is not None
    if got.rate != want.rate:
        raise ValueError("Rate doesn't match")
    if got.limit != want.limit:
        raise ValueError("Limit doesn't match")
    if got.buffer != want.buffer:
        raise ValueError("Buffer doesn't match")


def cmd_check(args: CmdArgs) -> None:
    from pycni.linux import tc
    from pycni.spec.result import convert

    conf = parse_config(args.conf)
    if conf.prev is None:
        raise ValueError("must be called as a chained plugin")
    result = convert(conf.prev, "1.1.0")
    _check_netns(args.netns)
    host = host_interface(result.get("interfaces") or [], args.ifname, args.netns)
    dev = _link_raw(host["name"])
    bw = conf.bandwidth
    if bw is None or bw.is_zero():
        return
    validate_subnets(bw)
    if bw.ingress:
        check_device(dev.index, dev.name or "", bw.ingress_rate, bw.ingress_burst, bw)
    if bw.egress:
        name = ifb_name(conf.name, args.container_id)
        ifb = _link(name, "ifb")
        check_device(ifb.index, name, bw.egress_rate, bw.egress_burst, bw)
        redirects = [f for f in tc.filter_list(dev.index, tc.TC_H_INGRESS)
                     if any(a.eaction == tc.TCA_EGRESS_REDIR and a.ifindex == ifb.index for a in f.actions)]
        if not redirects:
            raise ValueError(f"Failed to find the ingress filter redirecting {dev.name} to {name}")


cmd_gc = cmd_status = None  # upstream's skel: no GC/STATUS handler, so both succeed doing nothing

PLUGIN = Plugin("bandwidth", impl=__name__, versions=ALL[ALL.index("0.3.0"):])  # transitional: moves into a package

