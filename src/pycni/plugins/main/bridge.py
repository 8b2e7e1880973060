"""`bridge`: a veth pair per container, the host end enslaved to a Linux bridge (upstream HEAD).

Recipe: bridge created (or reused) and up -> veth in the container netns, host end on the bridge with the
hairpin / isolation / VLAN port settings -> optional macspoofchk nft rules -> with IPAM: IPAM ADD, gateways
computed (isGateway / isDefaultGateway), container sysctls, configure_iface (ECMP routes become multipath
routes), gateway addresses on the bridge (or on the `<br>.<vlan>` gateway veth), forwarding, ipMasq; without
IPAM (L2 only): container link up -> wait for the host port to be oper-up -> MACs refreshed.

Config: bridge, isGateway, isDefaultGateway, forceAddress, ipMasq, ipMasqBackend, mtu, hairpinMode,
promiscMode, vlan, vlanTrunk, preserveDefaultVlan, macspoofchk, enabledad, disableContainerInterface,
portIsolation, args.cni.mac / runtimeConfig.mac / CNI_ARGS MAC, ipam, dns, and pycni's `dad`.

Deliberate differences from upstream (each is a confirmed upstream bug or leak):
  * DEL with the netns gone (or CNI_NETNS empty) also removes the masquerade rules (using the prevResult
    IPs) and the macspoofchk rules; upstream leaks both.
  * a failed ADD removes what it created (container veth, masquerade and spoof-check rules) besides
    releasing the IPAM lease; upstream leaves the veth behind.
  * CHECK of an L2-only attachment (no `ipam`) does not call IPAM CHECK; upstream always fails it with
    `no plugin name provided`.
  * GC is implemented (IPAM GC + stale nftables masquerade rules); upstream has none.
  * `"dad": "skip"` also adds IPv6 gateway addresses on the bridge with IFA_F_NODAD.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_BRIDGE = "cni0"
PORT_WAIT_MS = (0, 50, 500, 1000, 1000)


def _fields() -> list[tuple[str, Any]]:
    from pycni.plugins.common import runtime_mac_field
    from pycni.spec.godecode import BOOL, INT, STRING, Struct

    trunk = Struct("VlanTrunk", [("minID", INT), ("maxID", INT), ("id", INT)], "main.VlanTrunk")
    bridge_args = Struct("BridgeArgs", [("mac", STRING)], "main.BridgeArgs")
    args = Struct("", [("cni", ("struct", bridge_args))],
                  'struct { Cni main.BridgeArgs "json:\\"cni,omitempty\\"" }')
    return [
        ("bridge", STRING),
        ("isGateway", BOOL),
        ("isDefaultGateway", BOOL),
        ("forceAddress", BOOL),
        ("ipMasq", BOOL),
        ("ipMasqBackend", STRING),
        ("mtu", INT),
        ("hairpinMode", BOOL),
        ("promiscMode", BOOL),
        ("vlan", INT),
        ("vlanTrunk", ("list", ("struct", trunk), "[]*main.VlanTrunk")),
        ("preserveDefaultVlan", BOOL),
        ("macspoofchk", BOOL),
        ("enabledad", BOOL),
        ("disableContainerInterface", BOOL),
        ("portIsolation", BOOL),
        ("args", ("struct", args)),
        runtime_mac_field(),
        ("dad", STRING),
    ]


def decode_conf(raw: Any) -> dict[str, Any]:
    """json.Unmarshal into the NetConf struct, with the bridge name defaulted as upstream."""
    from pycni.plugins import common

    conf = common.decode_conf(raw, _fields(), "failed to load netconf")
    conf.setdefault("bridge", DEFAULT_BRIDGE)
    return conf


def collect_vlan_trunk(trunk: list[Any] | None) -> list[int] | None:
    """The VLAN IDs of `vlanTrunk`, sorted and de-duplicated (None when there are none)."""
    if trunk is None:
        return None
    vids: set[int] = set()
    for item in trunk:
        if item is None:
            continue
        lo, hi, one = item.get("minID"), item.get("maxID"), item.get("id")
        if lo is not None and hi is not None:
            if lo <= 0 or lo > 4094:
                raise ValueError("incorrect trunk minID parameter")
            if hi <= 0 or hi > 4094:
                raise ValueError("incorrect trunk maxID parameter")
            if hi < lo:
                raise ValueError("minID is greater than maxID in trunk parameter")
            vids.update(range(lo, hi + 1))
        elif lo is None and hi is not None:
            raise ValueError("minID and maxID should be configured simultaneously, minID is missing")
        elif lo is not None and hi is None:
            raise ValueError("minID and maxID should be configured simultaneously, maxID is missing")
        if one is not None:
            if one <= 0 or one > 4094:
                raise ValueError("incorrect trunk id parameter")
            vids.add(one)
    return sorted(vids) or None


def load_conf(raw: Any, cni_args: str) -> dict[str, Any]:
    """loadNetConf: decode, validate vlan / vlanTrunk, then the MAC (CNI_ARGS < args.cni.mac <
    runtimeConfig.mac). Adds the private keys `_vlans` and `_mac`."""
    conf = decode_conf(raw)
    vlan = conf.get("vlan", 0)
    if vlan < 0 or vlan > 4094:
        raise ValueError(f"invalid VLAN ID {vlan} (must be between 0 and 4094)")
    conf["_vlans"] = collect_vlan_trunk(conf.get("vlanTrunk"))
    from pycni.plugins.common import mac_override

    conf["_mac"] = mac_override(cni_args, ((conf.get("args") or {}).get("cni") or {}).get("mac"),
                                (conf.get("runtimeConfig") or {}).get("mac"))
    return conf


def calc_gateway_ip(cidr: str) -> str:
    """The subnet's first address (network + 1)."""
    from pycni.netlink import codec as c

    ip, plen = c.split_cidr(cidr)
    raw = c.ip_bytes(c.mask_ip(ip, plen))
    value = (int.from_bytes(raw, "big") + 1) % (1 << (8 * len(raw)))
    return c.ip_str(c.ip_family(ip), value.to_bytes(len(raw), "big"))


def calc_gateways(result: dict[str, Any], is_gw: bool, is_default_gw: bool) -> tuple[list[str], list[str]]:
    """calcGateways: every IP gets `interface: 2`; a missing gateway is computed when is_gw; with
    is_default_gw a default route via the gateway is appended per family unless the result already has a
    default route *with* a gateway. Returns the gateway CIDRs (gateway IP + the IP's prefix) per family."""
    from pycni.netlink import codec as c

    gws: dict[int, list[str]] = {4: [], 6: []}
    found = {4: False, 6: False}
    routes = result.setdefault("routes", [])
    for ipc in result.get("ips") or []:
        ip, plen = c.split_cidr(ipc["address"])
        fam = 6 if ":" in ip else 4
        default = "0.0.0.0/0" if fam == 4 else "::/0"
        ipc["interface"] = 2
        if ipc.get("gateway") is None and is_gw:
            ipc["gateway"] = calc_gateway_ip(ipc["address"])
        if is_default_gw and not found[fam]:
            for r in routes:
                if r.get("gw") is not None and _canonical_cidr(r["dst"]) == default:
                    found[fam] = True
                    break
            if not found[fam]:
                route = {"dst": default}
                if ipc.get("gateway") is not None:
                    route["gw"] = ipc["gateway"]
                routes.append(route)
                found[fam] = True
        if is_gw:
            gws[fam].append(f"{c.canonical_ip(ipc['gateway'])}/{plen}")
    if not routes:
        del result["routes"]
    return gws[4], gws[6]


def _canonical_cidr(cidr: str) -> str:
    from pycni.netlink import codec as c

    try:
        ip, plen = c.split_cidr(cidr)
    except c.CodecError:
        return cidr
    return f"{c.mask_ip(ip, plen)}/{plen}"


def _dns_set(dns: dict[str, Any] | None) -> bool:
    if not dns:
        return False
    return any(k in dns for k in ("nameservers", "search", "options")) or bool(dns.get("domain"))


def _q(s: str) -> str:
    from pycni.spec.version import go_quote

    return go_quote(s)


# ---------------------------------------------------------------------------------------------
# ADD


class _Undo:
    """What a failing ADD must remove again (pycni cleans up more than upstream: see the module docstring)."""

    def __init__(self) -> None:
        self.veth_in: str | None = None  # netns path holding the created container veth
        self.ifname = ""
        self.spoof_ref: str | None = None
        self.ipam_type: str | None = None
        self.masq: tuple[list[str], str] | None = None

    def run(self, args: CmdArgs) -> None:
        import sys

        if self.masq is not None:
            try:
                from pycni.linux import ipmasq

                ipmasq.teardown(self.masq[0], self.masq[1], args.ifname, args.container_id)
            except Exception as exc:  # best effort: the ADD error is what the runtime sees
                sys.stderr.write(f"bridge: rollback: masquerade teardown: {exc}\n")
        if self.ipam_type is not None:
            from pycni.plugins.common import release_quietly

            release_quietly(self.ipam_type, args)
        if self.spoof_ref is not None:
            from pycni.linux import bridge as lb

            try:
                lb.spoofcheck_teardown(self.spoof_ref)
            except Exception as exc:
                sys.stderr.write(f"{exc}\n")
        if self.veth_in is not None:
            from pycni.linux import link
            from pycni.netlink.netns import netns

            try:
                with netns(self.veth_in):
                    link.del_link_by_name(self.ifname)
            except Exception as exc:
                sys.stderr.write(f"bridge: rollback: deleting {self.ifname}: {exc}\n")


def _setup_port(br: Any, host: Any, hairpin: bool, vlan: int, vlans: list[int] | None, preserve_default: bool,
                isolation: bool) -> None:
    """Host half of the reference's setupVeth: enslave, hairpin, isolation, VLAN entries."""
    from pycni.linux import bridge as lb
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError, NetlinkSocket

    name = host.name
    with NetlinkSocket() as nl:
        try:
            link.link_set_master(host, br, nl)
        except NetlinkError as e:
            raise ValueError(f"failed to connect {_q(name)} to bridge {br.name}: {e}") from None
        try:
            lb.set_hairpin(host, hairpin, nl)
        except NetlinkError as e:
            raise ValueError(f"failed to setup hairpin mode for {name}: {e}") from None
        try:
            lb.set_isolated(host, isolation, nl)
        except NetlinkError as e:
            raise ValueError(f"failed to set isolated on for {name}: {e}") from None
        if (vlan != 0 or vlans) and not preserve_default:
            try:
                lb.remove_default_vlan(host, nl)
            except NetlinkError as e:
                raise ValueError(f"failed to remove default vlan on interface {_q(name)}: {e}") from None
        if vlan != 0:
            try:
                lb.vlan_add(host, vlan, pvid=True, untagged=True, master=True, nl=nl)
            except NetlinkError as e:
                raise ValueError(f"failed to setup vlan tag on interface {_q(name)}: {e}") from None
        for v in vlans or []:
            try:
                lb.vlan_add(host, v, master=True, nl=nl)
            except NetlinkError as e:
                raise ValueError(f"failed to setup vlan tag on interface {_q(name)}: {e}") from None
        if vlan == 0 and vlans:
            try:
                lb.vlan_add(host, 1, pvid=True, untagged=True, master=True, nl=nl)
            except NetlinkError as e:
                raise ValueError(f"failed to setup default native vlan tag on interface {_q(name)}: {e}") from None


def _host_ns_path() -> tuple[int, str]:
    import os

    fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return fd, f"/proc/self/fd/{fd}"


def _ensure_vlan_interface(br: Any, vlan: int, preserve_default: bool) -> Any:
    """The reference's ensureVlanInterface: a veth `<bridge>.<vlan>` in the host netns whose peer is a bridge
    port carrying `vlan` untagged; the gateway addresses go on it."""
    import os

    from pycni.linux import link
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError
    from pycni.netlink.socket import wrap

    name = f"{br.name}.{vlan}"
    try:
        return link.link_by_name(name)
    except LinkNotFoundError:
        pass
    except NetlinkError as e:
        raise ValueError(f"failed to find interface {_q(name)}: {e}") from None
    fd, path = _host_ns_path()
    try:
        try:
            peer, gw_if = link.setup_veth(name, "", br.mtu or 0, "", path)
            _setup_port(br, peer, False, vlan, None, preserve_default, False)
        except (NetlinkError, ValueError) as e:
            raise ValueError(f"faild to create vlan gateway {_q(name)}: {e}") from None
    finally:
        os.close(fd)
    with wrap("failed to lookup %q", gw_if.name):
        gw_link = link.link_by_name(gw_if.name)
    with wrap("failed to up %q", gw_if.name):
        link.link_set_up(gw_link)
    return link.link_by_index(gw_link.index)


def _configure_container(args: CmdArgs, conf: dict[str, Any], result: dict[str, Any], dad: str) -> None:
    """Inside the container netns: DAD / ARP sysctls (errors ignored, as upstream), then configure_iface."""
    from pycni.ipam.configure import configure_iface
    from pycni.linux import sysctl

    ifn = args.ifname
    settings = ([(f"net/ipv6/conf/{ifn}/enhanced_dad", "1"), (f"net/ipv6/conf/{ifn}/accept_dad", "1")]
                if conf.get("enabledad") else [(f"net/ipv6/conf/{ifn}/accept_dad", "0")])
    settings.append((f"net/ipv4/conf/{ifn}/arp_notify", "1"))
    for name, value in settings:
        try:
            sysctl.set(name, value)
        except OSError:
            pass
    configure_iface(ifn, result, dad=dad)


def _enable_forward(fam: int) -> None:
    from pycni.linux import sysctl

    name = "net/ipv4/ip_forward" if fam == 4 else "net/ipv6/conf/all/forwarding"
    try:
        if sysctl.get(name).strip() == "1":
            return
    except OSError:
        pass
    try:
        sysctl.set(name, "1")
    except OSError as exc:
        raise ValueError(f"failed to enable forwarding: {exc}") from None


def _wait_port_up(name: str) -> Any:
    import time

    from pycni.linux import bridge as lb
    from pycni.linux import link
    from pycni.netlink import codec as c

    host = None
    for idx, ms in enumerate(PORT_WAIT_MS):
        time.sleep(ms / 1000)
        host = link.link_by_name(name)
        if host.operstate == c.IF_OPER_UP:
            break
        if idx == len(PORT_WAIT_MS) - 1:
            state = lb.OPER_STATE_NAMES.get(host.operstate or 0, "unknown")
            raise ValueError(f"bridge port in error state: {state}")
    return host


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import dad_mode
    from pycni.linux import bridge as lb
    from pycni.plugins import common

    conf = load_conf(args.conf, args.args)
    ipam_type = common.ipam_type(conf)
    layer3 = ipam_type != ""
    if layer3 and conf.get("disableContainerInterface"):
        raise ValueError("cannot use IPAM when DisableContainerInterface flag is set")
    is_default_gw = bool(conf.get("isDefaultGateway"))
    is_gw = bool(conf.get("isGateway")) or is_default_gw
    if conf.get("hairpinMode") and conf.get("promiscMode"):
        raise ValueError("cannot set hairpin mode and promiscuous mode at the same time")
    dad = dad_mode(conf, args.conf)

    br_name = conf["bridge"]
    vlan = conf.get("vlan", 0)
    vlans = conf["_vlans"]
    vlan_filtering = vlan != 0 or "vlanTrunk" in conf
    try:
        br = lb.ensure_bridge(br_name, conf.get("mtu", 0), bool(conf.get("promiscMode")), vlan_filtering)
    except lb.BridgeError as e:
        raise ValueError(f"failed to create bridge {_q(br_name)}: {e}") from None
    br_if: dict[str, Any] = {"name": br.name, "mac": br.address or ""}

    common.check_netns(args.netns, verbatim=True)

    undo = _Undo()
    try:
        result = _add(args, conf, br, br_if, ipam_type, is_gw, is_default_gw, vlan, vlans, dad, undo)
    except BaseException:
        undo.run(args)
        raise
    return result


def _add(args: CmdArgs, conf: dict[str, Any], br: Any, br_if: dict[str, Any], ipam_type: str, is_gw: bool,
         is_default_gw: bool, vlan: int, vlans: list[int] | None, dad: str, undo: _Undo) -> dict[str, Any]:
    import os

    from pycni.linux import bridge as lb
    from pycni.linux import link
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError
    from pycni.netlink.socket import wrap

    fd, host_path = _host_ns_path()
    try:
        with netns(args.netns):
            host, cont = link.setup_veth(args.ifname, "", conf.get("mtu", 0), conf["_mac"], host_path)
    finally:
        os.close(fd)
    undo.veth_in, undo.ifname = args.netns, args.ifname
    _setup_port(br, host, bool(conf.get("hairpinMode")), vlan, vlans, bool(conf.get("preserveDefaultVlan")),
                bool(conf.get("portIsolation")))
    host_if: dict[str, Any] = {"name": host.name, "mac": host.address or ""}
    cont_if: dict[str, Any] = {"name": cont.name, "mac": cont.address or "", "sandbox": args.netns}
    result: dict[str, Any] = {"cniVersion": "1.1.0", "interfaces": [br_if, host_if, cont_if]}

    if conf.get("macspoofchk"):
        ref = lb.spoof_ref_id(args.container_id, args.ifname)
        undo.spoof_ref = ref
        lb.spoofcheck_setup(host.name, cont_if["mac"], ref)

    if ipam_type:
        from pycni import invoke

        ipam = invoke.ipam_add(ipam_type, args)
        undo.ipam_type = ipam_type
        for key in ("ips", "routes", "dns"):
            if ipam.get(key):
                result[key] = ipam[key]
        if not result.get("ips"):
            raise ValueError("IPAM plugin returned missing IP config")
        gws4, gws6 = calc_gateways(result, is_gw, is_default_gw)
        with netns(args.netns):
            _configure_container(args, conf, result, dad)
        if is_gw:
            _gateway_addresses(result, conf, br, vlan, gws4, gws6, dad)
        if conf.get("ipMasq"):
            from pycni.linux import ipmasq

            cidrs = [ipc["address"] for ipc in result["ips"]]
            undo.masq = (cidrs, conf.get("name", ""))
            try:
                ipmasq.setup(conf.get("ipMasqBackend"), cidrs, conf.get("name", ""), args.ifname,
                             args.container_id)
            except ipmasq.IPMasqError as exc:
                raise ValueError(str(exc)) from None
    elif not conf.get("disableContainerInterface"):
        with netns(args.netns):
            with wrap("failed to retrieve link"):
                lk = link.link_by_name(args.ifname)
            with wrap("failed to set %q up", args.ifname):
                link.link_set_up(lk)

    if conf.get("disableContainerInterface"):
        host = link.link_by_name(host.name)
    else:
        host = _wait_port_up(host.name)
    host_if["mac"] = host.address or ""
    try:
        br_now = lb.bridge_by_name(conf["bridge"])
    except lb.BridgeError as e:
        raise ValueError(str(e)) from None
    br_if["mac"] = br_now.address or ""
    if _dns_set(conf.get("dns")):
        from pycni.spec.result import dns_from_config

        result["dns"] = dns_from_config(conf["dns"])
    return result


def _gateway_addresses(result: dict[str, Any], conf: dict[str, Any], br: Any, vlan: int, gws4: list[str],
                       gws6: list[str], dad: str) -> None:
    from _socket import AF_INET, AF_INET6

    from pycni.ipam.configure import DAD_SKIP
    from pycni.linux import bridge as lb

    force = bool(conf.get("forceAddress"))
    vlan_if: dict[str, Any] | None = None
    for fam, af, gws in ((4, AF_INET, gws4), (6, AF_INET6, gws6)):
        for gw in gws:
            if vlan != 0:
                target = _ensure_vlan_interface(br, vlan, bool(conf.get("preserveDefaultVlan")))
                if vlan_if is None:
                    vlan_if = {"name": target.name, "mac": target.address or ""}
                    result["interfaces"].append(vlan_if)
                wrap = "failed to set vlan interface for bridge with addr"
            else:
                target, wrap = br, "failed to set bridge addr"
            try:
                lb.ensure_addr(target, af, gw, force, nodad=dad == DAD_SKIP)
            except lb.BridgeError as e:
                raise ValueError(f"{wrap}: {e}") from None
        if gws:
            _enable_forward(fam)


# ---------------------------------------------------------------------------------------------
# DEL


def _prev_ips(conf: dict[str, Any], ifname: str) -> list[str]:
    """The container's addresses from prevResult (best effort: a bad prevResult yields none)."""
    prev = conf.get("prevResult")
    if not isinstance(prev, dict):
        return []
    try:
        from pycni.spec.netconf import parse_prev_result
        from pycni.spec.result import convert

        res = convert(parse_prev_result(prev, conf.get("cniVersion", "")) or {}, "1.1.0")
    except Exception:
        return []
    ifaces = res.get("interfaces") or []
    out = []
    for ipc in res.get("ips") or []:
        idx = ipc.get("interface")
        if idx is not None and not (0 <= idx < len(ifaces) and ifaces[idx].get("name") == ifname):
            continue
        out.append(ipc["address"])
    return out


def _del_link_with_addrs(ifname: str) -> list[str]:
    """DelLinkByNameAddr: delete ifname, returning its global unicast addresses (for masquerade teardown)."""
    from pycni.linux import addr, link
    from pycni.netlink import codec as c
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError

    try:
        lk = link.link_by_name(ifname)
    except LinkNotFoundError:
        raise
    except NetlinkError as e:
        raise ValueError(f"failed to lookup {_q(ifname)}: {e}") from None
    try:
        addrs = addr.addr_list(lk.index)
    except NetlinkError as e:
        raise ValueError(f"failed to get IP addresses for {_q(ifname)}: {e}") from None
    try:
        link.link_del(lk)
    except NetlinkError as e:
        raise ValueError(f"failed to delete {_q(ifname)}: {e}") from None
    return [f"{a.ip}/{a.prefixlen}" for a in addrs if a.scope == c.RT_SCOPE_UNIVERSE]


def cmd_del(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.netlink.netns import NetNSError, NSPathNotExistError, netns
    from pycni.netlink.socket import LinkNotFoundError
    from pycni.plugins import common

    conf = load_conf(args.conf, args.args)
    ipam_type = common.ipam_type(conf)

    netns_gone = args.netns == ""
    addrs: list[str] = []
    if not netns_gone:
        try:
            with netns(args.netns):
                try:
                    addrs = _del_link_with_addrs(args.ifname)
                except LinkNotFoundError:
                    addrs = []
        except NSPathNotExistError:
            netns_gone = True
        except NetNSError as exc:
            raise ValueError(str(exc)) from None

    if ipam_type:
        invoke.ipam_call(ipam_type, "DEL", args)

    if conf.get("macspoofchk"):
        import sys

        from pycni.linux import bridge as lb

        try:
            lb.spoofcheck_teardown(lb.spoof_ref_id(args.container_id, args.ifname))
        except lb.BridgeError as exc:
            sys.stderr.write(f"{exc}\n")

    if ipam_type and conf.get("ipMasq"):
        # pycni: without the link (netns gone, or link already removed) the prevResult IPs are used.
        if not addrs:
            addrs = _prev_ips(conf, args.ifname)
        from pycni.linux import ipmasq

        try:
            ipmasq.teardown(addrs, conf.get("name", ""), args.ifname, args.container_id)
        except ipmasq.IPMasqError as exc:
            raise ValueError(str(exc)) from None


# ---------------------------------------------------------------------------------------------
# CHECK


def _validate_interface(intf: dict[str, Any], expect_in_sandbox: bool) -> Any:
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    name = intf.get("name", "")
    if name == "":
        raise ValueError("Interface name missing ")
    try:
        lk = link.link_by_name(name)
    except NetlinkError:
        raise ValueError(f"Interface name {name} not found") from None
    if expect_in_sandbox:
        if not intf.get("sandbox"):
            raise ValueError(f"Interface {name} is expected to be in a sandbox")
    elif intf.get("sandbox"):
        raise ValueError(f"Interface {name} should not be in sandbox")
    return lk


def _go_bool(v: bool) -> str:
    return "true" if v else "false"


def _check_bridge(intf: dict[str, Any], promisc: bool) -> Any:
    from pycni.linux import bridge as lb

    lk = _validate_interface(intf, False)
    if lk.kind != "bridge":
        raise ValueError(f"Interface {intf['name']} does not have link type of bridge")
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(f"Bridge interface {intf['name']} Mac doesn't match: {intf['mac']}")
    have = bool(lk.flags & lb.IFF_PROMISC)
    if have != promisc:
        raise ValueError(f"Bridge interface {intf['name']} configured Promisc Mode {_go_bool(promisc)} "
                         f"doesn't match current state: {_go_bool(have)} ")
    return lk


def _check_container(intf: dict[str, Any]) -> Any:
    lk = _validate_interface(intf, True)
    if lk.kind != "veth":
        raise ValueError(f"Error: Container interface {lk.name} not of type veth")
    if not lk.link:
        raise ValueError(f"Unable to obtain veth peer index for veth {lk.name}")
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(f"Interface {intf['name']} Mac {intf['mac']} doesn't match container Mac: {lk.address}")
    return lk


def _match_host_veth(intf: dict[str, Any], br: Any, cont: Any) -> bool:
    lk = _validate_interface(intf, False)
    if lk.kind != "veth":
        return False  # not something CNI created: skipped
    if not lk.link:
        raise ValueError(f"Unable to obtain veth peer index for veth {lk.name}")
    if lk.index != cont.link or cont.index != lk.link or lk.master != br.index:
        return False
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(f"Interface {intf['name']} Mac doesn't match: {intf['mac']} not found")
    return True


def cmd_check(args: CmdArgs) -> None:
    from pycni.ipam.configure import check_iface
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = load_conf(args.conf, args.args)
    common.check_netns(args.netns, verbatim=True)
    # pycni: an L2-only attachment has no IPAM to ask (upstream fails CHECK here)
    common.forward("CHECK", common.ipam_type(conf), args)
    result = common.required_prev_result(conf, "Required prevResult missing")

    br_map: dict[str, Any] = {}
    cont_map: dict[str, Any] = {}
    ifaces = result.get("interfaces") or []
    for intf in ifaces:
        if intf.get("name") == conf["bridge"]:
            br_map = intf
        elif intf.get("name") == args.ifname and intf.get("sandbox", "") == args.netns:
            cont_map = intf

    br = _check_bridge(br_map, bool(conf.get("promiscMode")))
    if cont_map.get("sandbox", "") != args.netns:
        raise ValueError(f"Sandbox in prevResult {cont_map.get('sandbox', '')} doesn't match configured netns: "
                         f"{args.netns}")
    with netns(args.netns):
        cont = _check_container(cont_map)
    veth_found = False
    for intf in ifaces:
        if intf.get("name") in (br_map.get("name"), cont_map.get("name")):
            continue
        if _match_host_veth(intf, br, cont):
            veth_found = True
            break
    if not veth_found:
        raise ValueError(f"CNI veth created for bridge {conf['bridge']} was not found")
    with netns(args.netns):
        check_iface(args.ifname, result)


# ---------------------------------------------------------------------------------------------
# STATUS / GC


def cmd_status(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("STATUS", ipam_type(decode_conf(args.conf)), args)


def cmd_gc(args: CmdArgs) -> None:
    """Forward GC to the IPAM plugin and drop this network's stale nftables masquerade rules."""
    from pycni.plugins.common import forward, ipam_type
    from pycni.spec.netconf import valid_attachments

    conf = decode_conf(args.conf)
    forward("GC", ipam_type(conf), args)
    valid = valid_attachments(args.conf)
    if valid is not None:
        from pycni.linux import ipmasq

        try:
            ipmasq.gc(conf.get("name", ""), valid)
        except ipmasq.IPMasqError as exc:
            raise ValueError(str(exc)) from None


PLUGIN = Plugin("bridge", impl=__name__)  # transitional: moves into a package

