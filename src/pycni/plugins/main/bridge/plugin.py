"""`bridge`, the implementation: a veth pair per container, the host end enslaved to a Linux bridge (upstream HEAD).

Recipe: bridge created (or reused) and up -> veth in the container netns, host end on the bridge with the
hairpin / isolation / VLAN port settings -> optional macspoofchk nft rules -> with IPAM: IPAM ADD, gateways
computed (isGateway / isDefaultGateway), container sysctls, configure_iface (ECMP routes become multipath
routes), gateway addresses on the bridge (or on the `<br>.<vlan>` gateway veth), forwarding, ipMasq; without
IPAM (L2 only): container link up -> wait for the host port to be oper-up -> MACs refreshed.

Config (config.py): bridge, isGateway, isDefaultGateway, forceAddress, ipMasq, ipMasqBackend, mtu, hairpinMode,
promiscMode, vlan, vlanTrunk, preserveDefaultVlan, macspoofchk, enabledad, disableContainerInterface,
portIsolation, args.cni.mac / runtimeConfig.mac / CNI_ARGS MAC, ipam, dns, and pycni's `dad`.

Deliberate differences from upstream (each is a confirmed upstream bug or leak):
  * DEL with the netns gone (or CNI_NETNS empty, or without prevResult) also removes the masquerade rules
    (found by network name and container ID) and the macspoofchk rules; upstream leaks both.
  * a failed ADD removes what it created (container veth, masquerade and spoof-check rules) besides
    releasing the IPAM lease; upstream leaves the veth behind.
  * CHECK of an L2-only attachment (no `ipam`) does not call IPAM CHECK; upstream always fails it with
    `no plugin name provided`.
  * GC is implemented (IPAM GC + stale masquerade chains/rules, iptables and nftables); upstream has none.
  * `"dad": "skip"` also adds IPv6 gateway addresses on the bridge with IFA_F_NODAD.
"""

from __future__ import annotations

import os
import sys
import time
from _socket import AF_INET, AF_INET6

from pycni import invoke
from pycni.gofmt import q
from pycni.ipam.configure import DAD_SKIP, configure_iface, dad_mode
from pycni.linux import bridge as lb
from pycni.linux import link, sysctl
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, NetlinkSocket, wrap
from pycni.plugins.shared.conf import ipam_type as ipam_type_of
from pycni.plugins.shared.forward import forward
from pycni.plugins.shared.lease import release_quietly
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import required_prev_result
from pycni.spec.netconf import valid_attachments
from pycni.spec.result import dns_from_config

from .check import check_attachment
from .config import decode_conf, dns_set, load_netconf
from .gateways import calc_gateways

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.netlink.codec import Link
    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

PORT_WAIT_MS = (0, 50, 500, 1000, 1000)


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
        # Best effort throughout: the ADD error is what the runtime sees; the undo's own errors go to stderr.
        if self.masq is not None:
            from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

            try:
                ipmasq.teardown(self.masq[0], self.masq[1], args.ifname, args.container_id)
            except Exception as exc:  # noqa: BLE001 - reported on stderr, the ADD error wins
                sys.stderr.write(f"bridge: rollback: masquerade teardown: {exc}\n")
        if self.ipam_type is not None:
            release_quietly(self.ipam_type, args)
        if self.spoof_ref is not None:
            try:
                lb.spoofcheck_teardown(self.spoof_ref)
            except Exception as exc:  # noqa: BLE001 - reported on stderr, the ADD error wins
                sys.stderr.write(f"{exc}\n")
        if self.veth_in is not None:
            try:
                with netns.netns(self.veth_in):
                    link.del_link_by_name(self.ifname)
            except Exception as exc:  # noqa: BLE001 - reported on stderr, the ADD error wins
                sys.stderr.write(f"bridge: rollback: deleting {self.ifname}: {exc}\n")


def _setup_port(br: Link, host: Link, hairpin: bool, vlan: int, vlans: list[int] | None, preserve_default: bool,
                isolation: bool) -> None:
    """Host half of the reference's setupVeth: enslave, hairpin, isolation, VLAN entries."""
    name = host.name
    with NetlinkSocket() as nl:
        with wrap("failed to connect %q to bridge %s", name, br.name):
            link.link_set_master(host, br, nl)
        with wrap("failed to setup hairpin mode for %s", name):
            lb.set_hairpin(host, hairpin, nl)
        with wrap("failed to set isolated on for %s", name):
            lb.set_isolated(host, isolation, nl)
        if (vlan != 0 or vlans) and not preserve_default:
            with wrap("failed to remove default vlan on interface %q", name):
                lb.remove_default_vlan(host, nl)
        if vlan != 0:
            with wrap("failed to setup vlan tag on interface %q", name):
                lb.vlan_add(host, vlan, pvid=True, untagged=True, master=True, nl=nl)
        for v in vlans or []:
            with wrap("failed to setup vlan tag on interface %q", name):
                lb.vlan_add(host, v, master=True, nl=nl)
        if vlan == 0 and vlans:
            with wrap("failed to setup default native vlan tag on interface %q", name):
                lb.vlan_add(host, 1, pvid=True, untagged=True, master=True, nl=nl)


def _host_ns_path() -> tuple[int, str]:
    fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return fd, f"/proc/self/fd/{fd}"


def _ensure_vlan_interface(br: Link, vlan: int, preserve_default: bool) -> Link:
    """The reference's ensureVlanInterface: a veth `<bridge>.<vlan>` in the host netns whose peer is a bridge
    port carrying `vlan` untagged; the gateway addresses go on it."""
    name = f"{br.name}.{vlan}"
    try:
        return link.link_by_name(name)
    except LinkNotFoundError:
        pass
    except NetlinkError as e:
        raise ValueError(f"failed to find interface {q(name)}: {e}") from None
    fd, path = _host_ns_path()
    try:
        try:
            peer, gw_if = link.setup_veth(name, "", br.mtu or 0, "", path)
            _setup_port(br, peer, False, vlan, None, preserve_default, False)
        except (NetlinkError, ValueError) as e:
            raise ValueError(f"faild to create vlan gateway {q(name)}: {e}") from None
    finally:
        os.close(fd)
    gw_name = gw_if.name or ""  # a link read from the kernel always has a name
    with wrap("failed to lookup %q", gw_name):
        gw_link = link.link_by_name(gw_name)
    with wrap("failed to up %q", gw_name):
        link.link_set_up(gw_link)
    return link.link_by_index(gw_link.index)


def _configure_container(args: CmdArgs, conf: dict[str, Any], result: Result, dad: str) -> None:
    """Inside the container netns: DAD / ARP sysctls (errors ignored, as upstream), then configure_iface."""
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


def _wait_port_up(name: str) -> Link:
    host = None
    for idx, ms in enumerate(PORT_WAIT_MS):
        time.sleep(ms / 1000)
        host = link.link_by_name(name)
        if host.operstate == c.IF_OPER_UP:
            break
        if idx == len(PORT_WAIT_MS) - 1:
            state = lb.OPER_STATE_NAMES.get(host.operstate or 0, "unknown")
            raise ValueError(f"bridge port in error state: {state}")
    assert host is not None  # PORT_WAIT_MS is not empty
    return host


def cmd_add(args: CmdArgs) -> Result:
    conf = load_netconf(args.conf, args.args)
    ipam_type = ipam_type_of(conf)
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
        raise ValueError(f"failed to create bridge {q(br_name)}: {e}") from None
    br_if: Interface = {"name": br.name or "", "mac": br.address or ""}

    check_netns(args.netns, verbatim=True)

    undo = _Undo()
    try:
        result = _add(args, conf, br, br_if, ipam_type, is_gw, is_default_gw, vlan, vlans, dad, undo)
    except BaseException:
        undo.run(args)
        raise
    return result


def _add(args: CmdArgs, conf: dict[str, Any], br: Link, br_if: Interface, ipam_type: str, is_gw: bool,
         is_default_gw: bool, vlan: int, vlans: list[int] | None, dad: str, undo: _Undo) -> Result:
    fd, host_path = _host_ns_path()
    try:
        with netns.netns(args.netns):
            host, cont = link.setup_veth(args.ifname, "", conf.get("mtu", 0), conf["_mac"], host_path)
    finally:
        os.close(fd)
    undo.veth_in, undo.ifname = args.netns, args.ifname
    _setup_port(br, host, bool(conf.get("hairpinMode")), vlan, vlans, bool(conf.get("preserveDefaultVlan")),
                bool(conf.get("portIsolation")))
    host_name = host.name or ""  # a link read from the kernel always has a name
    host_if: Interface = {"name": host_name, "mac": host.address or ""}
    cont_if: Interface = {"name": cont.name or "", "mac": cont.address or "", "sandbox": args.netns}
    result: Result = {"cniVersion": "1.1.0", "interfaces": [br_if, host_if, cont_if]}

    if conf.get("macspoofchk"):
        ref = lb.spoof_ref_id(args.container_id, args.ifname)
        undo.spoof_ref = ref
        lb.spoofcheck_setup(host_name, cont_if["mac"], ref)

    if ipam_type:
        ipam = invoke.ipam_add(ipam_type, args)
        undo.ipam_type = ipam_type
        if ipam.get("ips"):
            result["ips"] = ipam["ips"]
        if ipam.get("routes"):
            result["routes"] = ipam["routes"]
        if ipam.get("dns"):
            result["dns"] = ipam["dns"]
        if not result.get("ips"):
            raise ValueError("IPAM plugin returned missing IP config")
        gws4, gws6 = calc_gateways(result, is_gw, is_default_gw)
        with netns.netns(args.netns):
            _configure_container(args, conf, result, dad)
        if is_gw:
            _gateway_addresses(result, conf, br, vlan, gws4, gws6, dad)
        if conf.get("ipMasq"):
            cidrs = [ipc["address"] for ipc in result["ips"]]
            undo.masq = (cidrs, conf.get("name", ""))
            from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

            try:
                ipmasq.setup(conf.get("ipMasqBackend"), cidrs, conf.get("name", ""), args.ifname,
                             args.container_id)
            except ipmasq.IPMasqError as exc:
                raise ValueError(str(exc)) from None
    elif not conf.get("disableContainerInterface"):
        with netns.netns(args.netns):
            with wrap("failed to retrieve link"):
                lk = link.link_by_name(args.ifname)
            with wrap("failed to set %q up", args.ifname):
                link.link_set_up(lk)

    if conf.get("disableContainerInterface"):
        host = link.link_by_name(host_name)
    else:
        host = _wait_port_up(host_name)
    host_if["mac"] = host.address or ""
    try:
        br_now = lb.bridge_by_name(conf["bridge"])
    except lb.BridgeError as e:
        raise ValueError(str(e)) from None
    br_if["mac"] = br_now.address or ""
    if dns_set(conf.get("dns")):
        result["dns"] = dns_from_config(conf["dns"])
    return result


def _gateway_addresses(result: Result, conf: dict[str, Any], br: Link, vlan: int, gws4: list[str],
                       gws6: list[str], dad: str) -> None:
    force = bool(conf.get("forceAddress"))
    vlan_if: Interface | None = None
    for fam, af, gws in ((4, AF_INET, gws4), (6, AF_INET6, gws6)):
        for gw in gws:
            if vlan != 0:
                target = _ensure_vlan_interface(br, vlan, bool(conf.get("preserveDefaultVlan")))
                if vlan_if is None:
                    vlan_if = {"name": target.name or "", "mac": target.address or ""}
                    result["interfaces"].append(vlan_if)
                text = "failed to set vlan interface for bridge with addr"
            else:
                target, text = br, "failed to set bridge addr"
            try:
                lb.ensure_addr(target, af, gw, force, nodad=dad == DAD_SKIP)
            except lb.BridgeError as e:
                raise ValueError(f"{text}: {e}") from None
        if gws:
            _enable_forward(fam)


# ---------------------------------------------------------------------------------------------
# DEL


# ---------------------------------------------------------------------------------------------
# CHECK, GC (STATUS: the skel default)


def cmd_check(args: CmdArgs) -> None:
    conf = load_netconf(args.conf, args.args)
    check_netns(args.netns, verbatim=True)
    # pycni: an L2-only attachment has no IPAM to ask (upstream fails CHECK here)
    forward("CHECK", ipam_type_of(conf), args)
    result = required_prev_result(conf, "Required prevResult missing")
    check_attachment(args, conf, result)


def load_conf(args: CmdArgs) -> dict[str, Any]:
    """What STATUS (skel's default: forward to IPAM) decodes: no vlan / vlanTrunk validation, like upstream."""
    return decode_conf(args.conf)


def cmd_gc(args: CmdArgs) -> None:
    """Forward GC to the IPAM plugin and drop this network's stale nftables masquerade rules."""
    conf = load_conf(args)
    forward("GC", ipam_type_of(conf), args)
    valid = valid_attachments(args.conf)
    if valid is not None:
        from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

        try:
            ipmasq.gc(conf.get("name", ""), valid)
        except ipmasq.IPMasqError as exc:
            raise ValueError(str(exc)) from None
