"""Bridge-specific kernel verbs: create/find a bridge, promisc, bridge-port flags, VLAN filtering entries,
gateway addresses on the bridge, and the macspoofchk nftables rules.

Payloads are built here with pycni.netlink.codec primitives (the netlink engineer's Link codec only knows veth
link data) and sent with NetlinkSocket.request. The `*_payload` functions are pure so that unit tests can compare
them byte for byte with what the reference's netlink library sends. Everything acts on the namespace of the
calling thread. Error texts are the reference's (plugins/main/bridge, pkg/link/spoofcheck.go).
"""

from __future__ import annotations

import struct
import sys
from _socket import AF_INET, AF_INET6

from pycni.gofmt import q
from pycni.linux import spawn, sysctl
from pycni.linux.addr import addr_add, addr_del, addr_list
from pycni.linux.link import link_by_name, link_set_hwaddr, link_set_up
from pycni.netlink import codec as c
from pycni.netlink.socket import ExistsError, NetlinkError, NetlinkSocket, scoped, wrap
from pycni.spec import gojson
from pycni.spec.ipnet import family_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# linux/socket.h, linux/if.h, linux/if_link.h, linux/if_bridge.h, linux/rtnetlink.h
AF_BRIDGE = 7
IFF_PROMISC = 0x100
IFLA_PROTINFO = 12
IFLA_AF_SPEC = 26
RTEXT_FILTER_BRVLAN = 1 << 1

IFLA_BR_VLAN_FILTERING = 7

IFLA_BRPORT_MODE = 4  # hairpin
IFLA_BRPORT_LEARNING = 8
IFLA_BRPORT_ISOLATED = 33

IFLA_BRIDGE_FLAGS = 0
IFLA_BRIDGE_VLAN_INFO = 2
BRIDGE_FLAGS_MASTER = 1
BRIDGE_FLAGS_SELF = 2
BRIDGE_VLAN_INFO_PVID = 1 << 1
BRIDGE_VLAN_INFO_UNTAGGED = 1 << 2

_U8 = struct.Struct("=B")
_U16 = struct.Struct("=H")
_VLAN_INFO = struct.Struct("=HH")  # struct bridge_vlan_info { __u16 flags; __u16 vid; }

OPER_STATE_NAMES = {0: "unknown", 1: "not-present", 2: "down", 3: "lower-layer-down", 4: "testing", 5: "dormant",
                    6: "up"}


class BridgeError(ValueError):
    """A bridge verb failed; str() is the reference's text."""


# ---------------------------------------------------------------------------------------------
# Payloads (pure)


def bridge_add_payload(name: str, mtu: int = 0, vlan_filtering: bool | None = None) -> bytes:
    """RTM_NEWLINK body creating bridge `name`: IFLA_IFNAME, IFLA_MTU (when > 0), IFLA_LINKINFO{kind "bridge",
    IFLA_INFO_DATA{IFLA_BR_VLAN_FILTERING} when vlan_filtering is not None}."""
    attrs = [c.pack_str(c.IFLA_IFNAME, name)]
    if mtu > 0:
        attrs.append(c.pack_u32(c.IFLA_MTU, c.go_uint32(mtu)))
    info = [c.pack_str(c.IFLA_INFO_KIND, "bridge")]
    if vlan_filtering is not None:
        info.append(c.pack_nested(c.IFLA_INFO_DATA,
                                  [c.pack_attr(IFLA_BR_VLAN_FILTERING, _U8.pack(1 if vlan_filtering else 0))]))
    attrs.append(c.pack_nested(c.IFLA_LINKINFO, info))
    return c.pack_ifinfomsg() + b"".join(attrs)


def promisc_payload(index: int, on: bool) -> bytes:
    """RTM_SETLINK body switching IFF_PROMISC (the Go library's SetPromiscOn/Off)."""
    return c.pack_ifinfomsg(index=index, flags=IFF_PROMISC if on else 0, change=IFF_PROMISC)


def brport_payload(index: int, attr: int, value: bool) -> bytes:
    """RTM_SETLINK body setting one boolean bridge-port attribute (IFLA_PROTINFO, family AF_BRIDGE)."""
    return c.pack_ifinfomsg(family=AF_BRIDGE, index=index) + c.pack_nested(
        IFLA_PROTINFO, [c.pack_attr(attr, _U8.pack(1 if value else 0))])


def vlan_payload(index: int, vid: int, *, pvid: bool = False, untagged: bool = False, self_: bool = False,
                 master: bool = False) -> bytes:
    """RTM_SETLINK (add) / RTM_DELLINK (delete) body for one VLAN entry on a bridge port:
    IFLA_AF_SPEC{[IFLA_BRIDGE_FLAGS u16], IFLA_BRIDGE_VLAN_INFO{flags, vid}}."""
    if not 0 < vid < 4095:
        raise BridgeError(f"invalid VLAN ID {vid}")
    spec = []
    flags = (BRIDGE_FLAGS_SELF if self_ else 0) | (BRIDGE_FLAGS_MASTER if master else 0)
    if flags:
        spec.append(c.pack_attr(IFLA_BRIDGE_FLAGS, _U16.pack(flags)))
    vflags = (BRIDGE_VLAN_INFO_PVID if pvid else 0) | (BRIDGE_VLAN_INFO_UNTAGGED if untagged else 0)
    spec.append(c.pack_attr(IFLA_BRIDGE_VLAN_INFO, _VLAN_INFO.pack(vflags, vid)))
    return c.pack_ifinfomsg(family=AF_BRIDGE, index=index) + c.pack_attr(IFLA_AF_SPEC, b"".join(spec))


def vlan_dump_payload() -> bytes:
    """RTM_GETLINK dump request (family AF_BRIDGE) asking for per-port VLAN lists."""
    return c.pack_ifinfomsg(family=AF_BRIDGE) + c.pack_u32(c.IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN)


def parse_vlan_dump(payloads: list[bytes]) -> dict[int, list[tuple[int, int]]]:
    """{ifindex: [(vlan flags, vid), ...]} from the RTM_NEWLINK replies of a vlan_dump_payload() dump."""
    out: dict[int, list[tuple[int, int]]] = {}
    for p in payloads:
        if len(p) < c.IFINFOMSG_LEN:
            continue
        index = struct.unpack_from("=i", p, 4)[0]
        for atype, data in c.parse_attrs(p, c.IFINFOMSG_LEN):
            if atype != IFLA_AF_SPEC:
                continue
            for stype, sdata in c.parse_attrs(data):
                if stype == IFLA_BRIDGE_VLAN_INFO and len(sdata) >= _VLAN_INFO.size:
                    out.setdefault(index, []).append(_VLAN_INFO.unpack_from(sdata, 0))
    return out


# ---------------------------------------------------------------------------------------------
# Link verbs


def add_bridge(name: str, mtu: int = 0, vlan_filtering: bool | None = None, nl: NetlinkSocket | None = None) -> None:
    """Create the bridge (CREATE|EXCL: an existing link of that name is ExistsError)."""
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, bridge_add_payload(name, mtu, vlan_filtering), c.NLM_F_CREATE | c.NLM_F_EXCL)


def set_promisc(link: c.Link | int, on: bool, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_SETLINK, promisc_payload(_index(link), on))


def set_brport_flag(link: c.Link | int, attr: int, value: bool, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_SETLINK, brport_payload(_index(link), attr, value))


def set_hairpin(link: c.Link | int, on: bool, nl: NetlinkSocket | None = None) -> None:
    set_brport_flag(link, IFLA_BRPORT_MODE, on, nl)


def set_isolated(link: c.Link | int, on: bool, nl: NetlinkSocket | None = None) -> None:
    set_brport_flag(link, IFLA_BRPORT_ISOLATED, on, nl)


def set_learning(link: c.Link | int, on: bool, nl: NetlinkSocket | None = None) -> None:
    set_brport_flag(link, IFLA_BRPORT_LEARNING, on, nl)


def vlan_add(link: c.Link | int, vid: int, *, pvid: bool = False, untagged: bool = False, self_: bool = False,
             master: bool = False, nl: NetlinkSocket | None = None) -> None:
    """The Go library's BridgeVlanAdd."""
    with scoped(nl) as s:
        s.request(c.RTM_SETLINK, vlan_payload(_index(link), vid, pvid=pvid, untagged=untagged, self_=self_,
                                              master=master))


def vlan_del(link: c.Link | int, vid: int, *, pvid: bool = False, untagged: bool = False, self_: bool = False,
             master: bool = False, nl: NetlinkSocket | None = None) -> None:
    """The Go library's BridgeVlanDel."""
    with scoped(nl) as s:
        s.request(c.RTM_DELLINK, vlan_payload(_index(link), vid, pvid=pvid, untagged=untagged, self_=self_,
                                              master=master))


def vlan_list(nl: NetlinkSocket | None = None) -> dict[int, list[tuple[int, int]]]:
    """The Go library's BridgeVlanList: {ifindex: [(flags, vid)]}."""
    with scoped(nl) as s:
        msgs = s.dump(c.RTM_GETLINK, vlan_dump_payload())
    return parse_vlan_dump([m.payload for m in msgs if m.type == c.RTM_NEWLINK])


def remove_default_vlan(link: c.Link | int, nl: NetlinkSocket | None = None) -> None:
    """Delete every VLAN entry the port has (the reference's removeDefaultVlan)."""
    with scoped(nl) as s:
        for _flags, vid in vlan_list(s).get(_index(link), []):
            vlan_del(link, vid, master=True, nl=s)


def _index(link: c.Link | int) -> int:
    return link if isinstance(link, int) else link.index


def bridge_by_name(name: str, nl: NetlinkSocket | None = None) -> c.Link:
    """The reference's bridgeByName: the link, which must be a bridge."""
    with wrap("could not lookup %q", name, error=BridgeError):
        link = link_by_name(name, nl)
    if link.kind != "bridge":
        raise BridgeError(f"{q(name)} already exists but is not a bridge")
    return link


def ensure_bridge(name: str, mtu: int, promisc: bool, vlan_filtering: bool, nl: NetlinkSocket | None = None) -> c.Link:
    """The reference's ensureBridge: create (an existing link is kept as it is), promisc on if asked, check that
    the link is a bridge, accept_ra=0 on it, set it up. Errors are *not* yet wrapped in `failed to create bridge`."""
    with scoped(nl) as s:
        try:
            if name == "":
                # the Go netlink library's check, made before anything is sent
                raise NetlinkError(0, "LinkAttrs.Name cannot be empty")
            add_bridge(name, mtu, True if vlan_filtering else None, s)
        except ExistsError:
            pass
        except NetlinkError as e:
            raise BridgeError(f"could not add {q(name)}: {e}") from None
        if promisc:
            with wrap("could not set promiscuous mode on %q", name, error=BridgeError):
                # by name: the index is not known yet (the Go library looks it up the same way)

                set_promisc(link_by_name(name, s), True, s)
        br = bridge_by_name(name, s)
        try:
            sysctl.set(f"net/ipv6/conf/{name}/accept_ra", "0")
        except OSError:
            pass
        try:
            link_set_up(br, s)
        except NetlinkError as e:
            raise BridgeError(str(e)) from None
    return br


# ---------------------------------------------------------------------------------------------
# Gateway addresses on the bridge


def _contains(net_ip: str, plen: int, ip: str) -> bool:
    if family_of(net_ip) != family_of(ip):
        return False
    return c.mask_ip(net_ip, plen) == c.mask_ip(ip, plen)


def ensure_addr(link: c.Link, family: int, cidr: str, force: bool, *, nodad: bool = False,
                nl: NetlinkSocket | None = None) -> None:
    """The reference's ensureAddr: make `cidr` (gateway IP + subnet prefix) an address of the bridge.

    An identical address is fine. Any other IPv4 address, or an IPv6 address whose subnet overlaps, is removed
    when `force`, else an error. Then the address is added (EEXIST ignored) and the bridge's MAC is set to the
    value it had when `link` was read (pinning it: otherwise it follows the lowest port MAC).
    pycni: `nodad` adds an IPv6 address with IFA_F_NODAD (the "dad": "skip" extension).
    """
    ip, plen = c.split_cidr(cidr)
    want = f"{ip}/{plen}"
    name = link.name or ""
    with scoped(nl) as s:
        with wrap("could not get list of IP addresses", error=BridgeError):
            have = addr_list(link.index, family, s)
        for a in have:
            aip = a.ip or ""
            if f"{aip}/{a.prefixlen}" == want:
                return
            if family == AF_INET or _contains(aip, a.prefixlen, ip) or _contains(ip, plen, aip):
                if not force:
                    raise BridgeError(f"{q(name)} already has an IP address different from {want}")
                with wrap("could not remove IP address from %q", name, error=BridgeError):
                    addr_del(link.index, f"{aip}/{a.prefixlen}", s)
        flags = c.IFA_F_NODAD if nodad and family == AF_INET6 else 0
        try:
            addr_add(link.index, want, flags=flags, nl=s)
        except ExistsError:
            pass
        except NetlinkError as e:
            raise BridgeError(f"could not add IP address {want} to {q(name)}: {e}") from None
        if link.address:
            with wrap("could not set bridge's mac", error=BridgeError):
                link_set_hwaddr(link, link.address, s)


# ---------------------------------------------------------------------------------------------
# macspoofchk (pkg/link/spoofcheck.go): nftables, family bridge, table nat


NAT_TABLE = "nat"
PREROUTING = "PREROUTING"


def spoof_ref_id(container_id: str, ifname: str) -> str:
    return f"{container_id}-{ifname}"


def spoof_comment(ref_id: str) -> str:
    return "macspoofchk-" + ref_id


def spoof_iface_chain(ref_id: str) -> str:
    return "cni-br-iface-" + ref_id


def spoof_mac_chain(ref_id: str) -> str:
    return spoof_iface_chain(ref_id) + "-mac"


def _chain(name: str) -> dict[str, Any]:
    return {"family": "bridge", "table": NAT_TABLE, "name": name}


def _rule(chain: str, expr: list[dict[str, Any]], ref_id: str) -> dict[str, Any]:
    return {"add": {"rule": {"family": "bridge", "table": NAT_TABLE, "chain": chain, "expr": expr,
                             "comment": spoof_comment(ref_id)}}}


def spoof_setup_configs(iface: str, mac: str, ref_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two nft JSON transactions of SpoofChecker.Setup: declare table and chains; then flush the per-port
    chains and add the rules (a PREROUTING jump on the host port, a jump to the MAC chain, accept the MAC,
    drop everything else)."""
    iface_chain = spoof_iface_chain(ref_id)
    mac_chain = spoof_mac_chain(ref_id)
    base = {"nftables": [
        {"add": {"table": {"family": "bridge", "name": NAT_TABLE}}},
        {"add": {"chain": dict(_chain(PREROUTING), type="filter", hook="prerouting", prio=-300, policy="accept")}},
        {"add": {"chain": _chain(iface_chain)}},
        {"add": {"chain": _chain(mac_chain)}},
    ]}
    rules = {"nftables": [
        {"flush": {"chain": _chain(iface_chain)}},
        {"flush": {"chain": _chain(mac_chain)}},
        _rule(PREROUTING, [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": iface}},
                           {"jump": {"target": iface_chain}}], ref_id),
        _rule(iface_chain, [{"jump": {"target": mac_chain}}], ref_id),
        _rule(mac_chain, [{"match": {"op": "==", "left": {"payload": {"protocol": "ether", "field": "saddr"}},
                                     "right": mac}},
                          {"return": None}], ref_id),
        _rule(mac_chain, [{"drop": None}], ref_id),
    ]}
    return base, rules


def spoof_teardown_configs(ref_id: str, prerouting_rules: list[dict[str, Any]]
                           ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """SpoofChecker.Teardown's transactions: delete the PREROUTING rules carrying this attachment's comment
    (None when there is none), then delete both per-port chains."""
    comment = spoof_comment(ref_id)
    dels = [{"delete": {"rule": {"family": "bridge", "table": NAT_TABLE, "chain": PREROUTING, "handle": r["handle"]}}}
            for r in prerouting_rules if r.get("comment") == comment and "handle" in r]
    chains = {"nftables": [{"delete": {"chain": _chain(spoof_iface_chain(ref_id))}},
                           {"delete": {"chain": _chain(spoof_mac_chain(ref_id))}}]}
    return ({"nftables": dels} if dels else None), chains


class NftError(RuntimeError):
    pass


def _nft(args: list[str], stdin: str | None = None) -> str:
    try:
        proc = spawn.run(["nft", *args], stdin)
    except OSError as e:
        raise NftError(str(e)) from None
    if proc.status != 0:
        raise NftError(f"failed to run nft: {proc.stderr.strip() or proc.status_text()}")
    return proc.stdout


def _nft_apply(cfg: dict[str, Any]) -> None:
    import json  # lazy: heavy stdlib (gojson does not write), macspoofchk only

    _nft(["-j", "-f", "-"], json.dumps(cfg))


def _nft_prerouting_rules() -> list[dict[str, Any]]:
    out = []
    for item in gojson.loads(_nft(["-j", "list", "chain", "bridge", NAT_TABLE, PREROUTING]) or "{}").get("nftables", []):
        if isinstance(item, dict) and isinstance(item.get("rule"), dict):
            out.append(item["rule"])
    return out


def spoofcheck_setup(iface: str, mac: str, ref_id: str) -> None:
    base, rules = spoof_setup_configs(iface, mac, ref_id)
    try:  # upstream's two transactions as one: the rules appear with their chains or not at all
        _nft_apply({"nftables": base["nftables"] + rules["nftables"]})
    except NftError as e:
        raise BridgeError(f"failed to setup spoof-check: {e}") from None


def spoofcheck_teardown(ref_id: str) -> None:
    """Remove this attachment's PREROUTING rule and both chains; table and base chain stay.
    Raises BridgeError `failed to teardown spoof-check: <rule error>, <chain error>` (Go's %v of nil: <nil>)."""
    rule_err: str | None = None
    try:
        prerouting = _nft_prerouting_rules()
    except NftError as e:
        prerouting, rule_err = [], str(e)
    dels, chains = spoof_teardown_configs(ref_id, prerouting)
    if dels is not None and rule_err is None:
        try:  # one transaction when both parts succeed; else upstream's two, for its error texts
            _nft_apply({"nftables": dels["nftables"] + chains["nftables"]})
            return
        except NftError:
            pass
    if dels is not None:
        try:
            _nft_apply(dels)
        except NftError as e:
            rule_err = f"failed to delete iface match rule: {e}"
    else:
        sys.stderr.write(f"spoofcheck/teardown: unable to detect iface match rule for deletion: "
                         f"{spoof_comment(ref_id)}\n")
    chain_err: str | None = None
    try:
        _nft_apply(chains)
    except NftError as e:
        chain_err = f"failed to delete regular chains: {e}"
    if rule_err is not None or chain_err is not None:
        raise BridgeError(f"failed to teardown spoof-check: {rule_err or '<nil>'}, {chain_err or '<nil>'}")
