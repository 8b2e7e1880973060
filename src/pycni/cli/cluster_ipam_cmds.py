"""`pycni ipam cluster-show` and `pycni ipam gc`: cluster-ipam pools in etcd, for operators.

Both read the network config a runtime would pass (a .conf, or a .conflist whose plugin uses
cluster-ipam). `gc --live-nodes` releases the attachments and blocks of nodes not in the list
(nodes that are gone cannot run CNI GC themselves); every release is the plugin's own txn.
Not on any plugin's exec path.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from pycni.plugins.ipam.cluster_ipam import config as C
from pycni.plugins.ipam.cluster_ipam.blocks import endpoint_start, ip_hex
from pycni.plugins.ipam.cluster_ipam.engine import Engine
from pycni.plugins.ipam.cluster_ipam.etcd import (
    Client,
    count,
    kvs,
    op_range,
    prefix_end,
)
from pycni.spec import ipnet
from pycni.spec.errors import CNIError


def load_network(path: str) -> dict[str, Any]:
    """The network config (with its name) that uses cluster-ipam, from a .conf or .conflist."""
    with open(path) as f:
        conf = json.load(f)
    if isinstance(conf.get("plugins"), list):
        for p in conf["plugins"]:
            if isinstance(p, dict) and isinstance(p.get("ipam"), dict) and p["ipam"].get("type") == "cluster-ipam":
                return dict(p, name=conf.get("name", ""))
        raise ValueError(f"{path}: no plugin with ipam type cluster-ipam")
    if not isinstance(conf.get("ipam"), dict) or conf["ipam"].get("type") != "cluster-ipam":
        raise ValueError(f"{path}: ipam type is not cluster-ipam")
    return dict(conf)


def engine(path: str, node: str = "cli") -> Engine:
    cfg = C.load(load_network(path), {"NODENAME": node, **os.environ})
    cfg.node = node
    client = Client(cfg.endpoints, endpoint_start(node, len(cfg.endpoints)), cfg.attempt, cfg.budget,
                    cfg.tls, cfg.username, cfg.password)
    return Engine(cfg, client)


def _block_owners(eng: Engine) -> dict[str, int]:
    """node -> number of blocks it holds, over every range of the network."""
    owners: dict[str, int] = {}
    for rs in eng.cfg.sets:
        for r in rs:
            pre = (eng.k.pool(r) + "/nodes/").encode()
            _, res = eng.c.txn([], [op_range(pre, prefix_end(pre), keys_only=True)])
            for kv in kvs(res[0]):
                node = kv.key[len(pre):].split(b"/", 1)[0].decode()
                owners[node] = owners.get(node, 0) + 1
    return owners


def show(path: str, as_json: bool) -> int:
    eng = engine(path)
    ranges = []
    for rs in eng.cfg.sets:
        for r in rs:
            fam_pre = f"{eng.k.n}/ips/{r.family}/"
            end_ip = r.end + 1
            end = (fam_pre + ip_hex(r.family, end_ip)).encode() if not end_ip >> r.width else \
                prefix_end(fam_pre.encode())
            bp = eng.k.blocks_prefix(r)
            _, res = eng.c.txn([], [op_range((fam_pre + ip_hex(r.family, r.start)).encode(), end, count_only=True),
                                    op_range(bp, prefix_end(bp), count_only=True)])
            ranges.append({
                "range": f"{ipnet.ip_str((r.family, r.start))}-{ipnet.ip_str((r.family, r.end))}",
                "subnet": ipnet.cidr_str((r.family, r.net), r.plen), "block": f"/{r.block_len}",
                "blocks_total": r.nblocks, "blocks_claimed": count(res[1]), "addresses_used": count(res[0]),
            })
    per_node: dict[str, dict[str, int]] = {}
    for node, _, _ in eng.attachments(None):
        per_node.setdefault(node, {"attachments": 0, "blocks": 0})["attachments"] += 1
    for node, n in _block_owners(eng).items():
        per_node.setdefault(node, {"attachments": 0, "blocks": 0})["blocks"] = n
    eng.c.close()
    out = {"network": eng.cfg.network, "prefix": eng.cfg.prefix, "ranges": ranges, "nodes": per_node}
    if as_json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"network {out['network']} (etcd prefix {out['prefix']})")
    for row in ranges:
        print(f"  {row['range']} in {row['subnet']}: {row['addresses_used']} addresses used; "
              f"blocks {row['block']}: {row['blocks_claimed']} of {row['blocks_total']} claimed")
    for node in sorted(per_node):
        v = per_node[node]
        print(f"  node {node}: {v['attachments']} attachments, {v['blocks']} blocks")
    return 0


def gc(path: str, live: list[str], dry_run: bool) -> int:
    """Release every attachment and block of the nodes not in `live`."""
    eng = engine(path)
    alive = set(live)
    errors = 0
    dead_attachments = [(n, c, i) for n, c, i in eng.attachments(None) if n not in alive]
    for node, cid, ifname in dead_attachments:
        if dry_run:
            print(f"would release {cid}/{ifname} of node {node}")
            continue
        try:
            eng.release(cid, ifname)
            print(f"released {cid}/{ifname} of node {node}")
        except CNIError as exc:
            errors += 1
            print(f"error releasing {cid}/{ifname} of node {node}: {exc}", file=sys.stderr)
    for node in sorted(n for n in _block_owners(eng) if n not in alive):
        if dry_run:
            print(f"would release the empty blocks of node {node}")
            continue
        try:
            print(f"released {eng.release_empty_blocks(node, min_age=0)} empty blocks of node {node}")
        except CNIError as exc:
            errors += 1
            print(f"error releasing the blocks of node {node}: {exc}", file=sys.stderr)
    eng.c.close()
    return 1 if errors else 0


def guard(func: Any, *args: Any) -> int:
    """Run a sub-command: its OSError, ValueError or CNIError becomes a message and exit status 2."""
    try:
        return int(func(*args))
    except (OSError, ValueError, CNIError) as exc:
        print(f"pycni ipam: {exc}", file=sys.stderr)
        return 2
