"""`bandwidth`, the implementation: rate-limit a veth-attached container with tbf (upstream HEAD), both directions.

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

from pycni.plugins.shared.prev_result import without_prev_result
from pycni.skel import CmdArgs
from pycni.spec.result import convert

from .config import parse_config, validate_subnets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.spec.result import Result


def cmd_add(args: CmdArgs) -> Result | None:
    conf = parse_config(args.conf)
    bw = conf.bandwidth
    if bw is None or bw.is_zero():
        if conf.prev is None:
            raise ValueError("must be called as chained plugin")
        return conf.prev  # nothing to shape: nothing more is loaded
    validate_subnets(bw)
    if conf.prev is None:
        raise ValueError("must be called as chained plugin")
    result = convert(conf.prev, "1.1.0").copy()
    from . import device as D  # lazy: the netlink and tc stack (~5 ms), only with something to shape

    D.check_netns(args.netns)
    host = D.host_interface(result.get("interfaces") or [], args.ifname, args.netns)
    if bw.ingress:
        D.create_ingress(host["name"], bw)
    if bw.egress:
        mtu = D.link_raw(host["name"]).mtu
        name = D.ifb_name(conf.name, args.container_id)
        ifb = D.create_ifb(name, mtu)
        result["interfaces"] = list(result.get("interfaces") or []) + [{"name": name, "mac": ifb.address or ""}]
        D.create_egress(host["name"], name, bw)
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = parse_config(without_prev_result(args.conf))  # DEL needs only the name: never fail on prevResult
    from . import device as D  # lazy: as in cmd_add (DEL always looks for the ifb: upstream does)

    D.delete_ifb(D.ifb_name(conf.name, args.container_id))


def cmd_check(args: CmdArgs) -> None:
    conf = parse_config(args.conf)
    if conf.prev is None:
        raise ValueError("must be called as a chained plugin")
    result = convert(conf.prev, "1.1.0")
    from . import device as D  # lazy: as in cmd_add (CHECK always reads the host veth: upstream does)

    D.check_netns(args.netns)
    host = D.host_interface(result.get("interfaces") or [], args.ifname, args.netns)
    dev = D.link_raw(host["name"])
    bw = conf.bandwidth
    if bw is None or bw.is_zero():
        return
    validate_subnets(bw)
    if bw.ingress:
        D.check_device(dev.index, dev.name or "", bw.ingress_rate, bw.ingress_burst, bw)
    if bw.egress:
        name = D.ifb_name(conf.name, args.container_id)
        ifb = D.find_link(name, "ifb")
        D.check_device(ifb.index, name, bw.egress_rate, bw.egress_burst, bw)
        D.check_redirect(dev, ifb, name)


# Upstream's bandwidth registers no GC/STATUS handler (skel answers both with success): nothing to forward.
cmd_gc = cmd_status = None
