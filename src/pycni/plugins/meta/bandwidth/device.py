"""bandwidth's kernel work: find the host end of the container's veth, build and check the tbf/htb shaping
and the ifb for egress (see plugin.py for the recipe). Loaded only by calls that touch the kernel.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.linux import link, tc
from pycni.netlink import netns
from pycni.netlink.netns import NetNSError
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, wrap
from pycni.plugins.shared.netns import check_netns  # noqa: F401  (plugin.py calls it through this module)

from .config import Bandwidth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.spec.result import Interface

IFB_PREFIX = "bwp"
IFB_NAME_LEN = 15

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


def ifb_name(network: str, container_id: str) -> str:
    """"bwp" + hex(sha512(network name + container ID)), 15 characters."""
    import hashlib  # lazy: loads OpenSSL (~3 ms); an ingress-only ADD never names the ifb

    return (IFB_PREFIX + hashlib.sha512((network + container_id).encode()).hexdigest())[:IFB_NAME_LEN]


# ---------------------------------------------------------------------------------------------
# Host side


def veth_peer_index(ifname: str) -> int:
    """GetVethPeerIfindex, in the current (container) namespace: the veth's IFLA_LINK."""
    with wrap("could not look up %q", ifname):
        lk = link.link_by_name(ifname)
    if lk.kind != "veth":
        raise ValueError(f"interface {q(ifname)} was not a veth interface")
    return lk.link or 0


def host_interface(interfaces: list[Interface], ifname: str, netns_path: str) -> Interface:
    """The prevResult interface (no sandbox) that is the host end of the container's veth."""
    if not interfaces:
        raise ValueError("no interfaces provided")
    peer, err = 0, "<nil>"
    try:
        with netns.netns(netns_path):
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


def find_link(name: str, what: str) -> Any:
    with wrap("get %s device", what):
        return link.link_by_name(name)


def link_raw(name: str) -> Any:
    try:
        return link.link_by_name(name)
    except NetlinkError as exc:
        raise ValueError(str(exc)) from None


def shape_device(index: int, rate_bits: int, burst_bits: int, bw: Bandwidth, source_match: bool,
                 err_prefix: str = "") -> None:
    """Put the shaper on a device's root: a tbf (HEAD), or htb + pfifo + tbf with subnet filters (pycni)."""
    params = tc.tbf_params(rate_bits, burst_bits)
    if not bw.subnets:
        with wrap("%screate qdisc", err_prefix):
            tc.qdisc_add(tc.pack_tbf_qdisc(index, params))
        return
    shaped_default = bool(bw.unshaped)
    target = UNSHAPED_CLASS if shaped_default else SHAPED_CLASS
    default = (SHAPED_CLASS if shaped_default else UNSHAPED_CLASS) & 0xFFFF
    big = tc.tbf_params(UNLIMITED * 8, HTB_BURST * 8)
    with wrap("%screate qdisc", err_prefix):
        tc.qdisc_add(tc.pack_htb_qdisc(index, default, HTB_HANDLE))
        for classid in (UNSHAPED_CLASS, SHAPED_CLASS):
            tc.class_add(tc.pack_htb_class(index, classid, HTB_HANDLE, UNLIMITED, big.buffer, HTB_QUANTUM))
        tc.qdisc_add(tc.pack_pfifo_qdisc(index, PFIFO_LIMIT, PFIFO_HANDLE, UNSHAPED_CLASS))
        tc.qdisc_add(tc.pack_tbf_qdisc(index, params, TBF_CHILD_HANDLE, SHAPED_CLASS))
    for cidr in bw.subnets:
        proto, keys = tc.subnet_keys(cidr, source_match)
        prio = FILTER_PRIO_V4 if proto == tc.ETH_P_IP else FILTER_PRIO_V6
        with wrap("%sadd subnet filter for %s", err_prefix, cidr):
            tc.filter_add(tc.pack_u32_filter(index, HTB_HANDLE, prio, proto, keys=keys, classid=target))


def create_ingress(host_name: str, bw: Bandwidth) -> None:
    dev = find_link(host_name, "host")
    shape_device(dev.index, bw.ingress_rate, bw.ingress_burst, bw, source_match=True)


def create_ifb(name: str, mtu: int) -> Any:
    with wrap("adding link"):
        tc.add_ifb(name, mtu)
    return link.link_by_name(name)


def redirect_actions(ifb_index: int) -> list[Any]:
    """Upstream's filter carries the library's implicit redirect (stolen) and its explicit one (pass)."""
    return [tc.Mirred(tc.TCA_EGRESS_REDIR, ifb_index, tc.TC_ACT_STOLEN),
            tc.Mirred(tc.TCA_EGRESS_REDIR, ifb_index, tc.TC_ACT_OK)]


def create_egress(host_name: str, ifb: str, bw: Bandwidth) -> None:
    ifb_dev = find_link(ifb, "ifb")
    host = find_link(host_name, "host")
    with wrap("create ingress qdisc"):
        tc.qdisc_add(tc.pack_ingress_qdisc(host.index))
    with wrap("add filter"):
        tc.filter_add(tc.pack_u32_filter(host.index, tc.INGRESS_HANDLE, 1, tc.ETH_P_ALL, classid=tc.handle(1, 1),
                                         actions=redirect_actions(ifb_dev.index)))
    shape_device(ifb_dev.index, bw.egress_rate, bw.egress_burst, bw, source_match=False,
                 err_prefix="create ifb qdisc: ")


def check_device(index: int, name: str, rate_bits: int, burst_bits: int, bw: Bandwidth) -> None:
    """The device's shaper: a tbf with the expected rate/limit/buffer (under htb class 1:2 in subnet mode)."""
    want = tc.tbf_params(rate_bits, burst_bits)
    qdiscs = [qd for qd in tc.qdisc_list(index) if qd.kind != "pfifo_fast"]
    if not qdiscs:
        raise ValueError("Failed to find qdisc")
    if bw.subnets:
        root = [qd for qd in qdiscs if qd.parent == tc.TC_H_ROOT]
        if not root or root[0].kind != "htb":
            raise ValueError(f"Failed to find htb qdisc for subnet shaping on {name}")
        tbfs = [qd for qd in qdiscs if qd.tbf is not None and qd.parent == SHAPED_CLASS]
    else:
        tbfs = [qd for qd in qdiscs if qd.tbf is not None and qd.parent == tc.TC_H_ROOT]
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


def check_redirect(dev: Any, ifb: Any, ifb_name: str) -> None:
    """The host veth's ingress has a filter redirecting to the ifb."""
    redirects = [f for f in tc.filter_list(dev.index, tc.TC_H_INGRESS)
                 if any(a.eaction == tc.TCA_EGRESS_REDIR and a.ifindex == ifb.index for a in f.actions)]
    if not redirects:
        raise ValueError(f"Failed to find the ingress filter redirecting {dev.name} to {ifb_name}")


def delete_ifb(name: str) -> None:
    """DEL: remove the egress ifb; none is success."""
    with wrap("failed to lookup %q", name):
        try:
            lk = link.link_by_name(name)
        except LinkNotFoundError:
            return
    with wrap("failed to delete %q", name):
        try:
            link.link_del(lk)
        except LinkNotFoundError:
            return
