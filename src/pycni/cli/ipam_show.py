"""`pycni ipam show`: the host-local pools on this host, from the store alone.

Per network and range set: capacity, used, free, the last reserved address and who holds what.
The range sets are those the last pycni command on the network recorded in its index state; a
network only ever touched by the reference binary shows its holders with capacity "unknown".
Read-only: takes each network's lock shared, creates nothing.
"""

from __future__ import annotations

import os
import sys

from pycni.gofmt import join_path
from pycni.plugins.ipam.host_local.range import Range, RangeSet
from pycni.plugins.ipam.host_local.store.inspect import snapshot
from pycni.plugins.ipam.host_local.store.layout import DEFAULT_DATA_DIR, LAST_IP_PREFIX
from pycni.spec import ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _ranges_from_state(lines: list[str]) -> list[tuple[int, RangeSet]]:
    out = []
    for line in lines:
        idx_text, _, desc = line.partition(" ")
        rs = RangeSet()
        try:
            for part in desc.split(","):
                subnet, start, end, gw = part.split("|")
                sub, plen = ipnet.parse_cidr(subnet)
                rs.append(Range(sub, plen, ipnet.parse_ip(start), ipnet.parse_ip(end), ipnet.parse_ip(gw)))
            out.append((int(idx_text), rs))
        except (ValueError, IndexError):
            continue
    return out


def _holder(ip: tuple[int, int], key: str) -> dict[str, str]:
    cid, sep, ifname = key.partition("\r\n")
    return {"ip": ipnet.ip_str(ip), "containerID": cid, "ifname": ifname if sep else ""}


def _last_reserved(net_dir: str, idx: int) -> str | None:
    try:
        with open(f"{net_dir}/{LAST_IP_PREFIX}{idx}", "rb") as f:
            ip = ipnet.parse_ip(f.read().decode("utf-8", "replace"))
    except OSError:
        return None
    return None if ip is None else ipnet.ip_str(ip)


def network_view(data_dir: str, network: str) -> dict[str, Any]:
    net_dir = join_path(data_dir, network)
    entries, state, used_index = snapshot(data_dir, network)
    held = []
    for rel, key in entries:
        if "/" in rel:
            continue
        ip = ipnet.parse_ip(rel)
        if ip is not None:
            held.append((ip, key))
    held.sort(key=lambda h: h[0])
    sets = _ranges_from_state(state.ranges) if state is not None else []
    view: dict[str, Any] = {"name": network, "dir": net_dir, "allocated": len(held),
                            "rangesKnown": bool(sets), "indexUsed": used_index, "rangeSets": []}
    placed: set[tuple[int, int]] = set()
    for idx, rs in sets:
        rs_holders = []
        ranges = []
        for r in rs:
            in_r = [(ip, key) for ip, key in held if r.contains(ip) and ip != r.gateway]
            cap = r.size()
            ranges.append({"subnet": r.subnet_text(), "start": ipnet.ip_str(r.start), "end": ipnet.ip_str(r.end),
                           "gateway": ipnet.ip_str(r.gateway) if r.gateway else None,
                           "capacity": cap, "used": len(in_r), "free": cap - len(in_r)})
        for ip, key in held:
            if ip not in placed and rs.contains(ip):
                rs_holders.append(_holder(ip, key))
                placed.add(ip)
        cap = sum(r["capacity"] for r in ranges)
        used = sum(r["used"] for r in ranges)
        view["rangeSets"].append({"index": idx, "ranges": ranges, "capacity": cap, "used": used, "free": cap - used,
                                  "lastReserved": _last_reserved(net_dir, idx), "holders": rs_holders})
    view["otherHolders"] = [_holder(ip, key) for ip, key in held if ip not in placed]
    return view


def collect(data_dir: str, network: str | None) -> list[dict[str, Any]]:
    if network:
        if not os.path.isdir(os.path.join(data_dir, network)):
            raise FileNotFoundError(f"no network {network!r} in {data_dir}")
        names = [network]
    else:
        try:
            names = sorted(n for n in os.listdir(data_dir)
                           if not n.startswith(".") and os.path.isdir(os.path.join(data_dir, n)))
        except FileNotFoundError:
            names = []
    return [network_view(data_dir, n) for n in names]


def _fmt(n: Any) -> str:
    return "unknown" if n is None else str(n)


def _holder_line(h: dict[str, str]) -> str:
    ifname = h["ifname"] if h["ifname"] else "(legacy id-only file)"
    return f"      {h['ip']:<40} {h['containerID']}  {ifname}"


def render_text(data_dir: str, views: list[dict[str, Any]]) -> str:
    if not views:
        return f"no host-local networks in {data_dir}\n"
    out = []
    for v in views:
        out.append(f"network {v['name']}  ({v['dir']})  allocated {v['allocated']}")
        if not v["rangesKnown"]:
            out.append("  ranges unknown (no pycni command has recorded this network's range sets): "
                       "capacity unknown, free unknown")
        for rs in v["rangeSets"]:
            last = rs["lastReserved"] or "-"
            out.append(f"  range set {rs['index']}: capacity {rs['capacity']}  used {rs['used']}  "
                       f"free {rs['free']}  last reserved {last}")
            for r in rs["ranges"]:
                out.append(f"    {r['subnet']}  {r['start']}-{r['end']}  gateway {_fmt(r['gateway'])}  "
                           f"capacity {r['capacity']}  used {r['used']}  free {r['free']}")
            out += [_holder_line(h) for h in rs["holders"]]
        if v["otherHolders"]:
            title = "holders" if not v["rangesKnown"] else "holders outside the recorded range sets"
            out.append(f"  {title}:")
            out += [_holder_line(h) for h in v["otherHolders"]]
    return "\n".join(out) + "\n"


def run(data_dir: str | None, network: str | None, as_json: bool) -> int:
    data_dir = data_dir or DEFAULT_DATA_DIR
    try:
        views = collect(data_dir, network)
    except OSError as exc:
        sys.stderr.write(f"pycni ipam show: {exc}\n")
        return 1
    if as_json:
        from pycni.spec import gojson

        sys.stdout.write(gojson.dumps({"dataDir": data_dir, "networks": views}) + "\n")
    else:
        sys.stdout.write(render_text(data_dir, views))
    return 0
