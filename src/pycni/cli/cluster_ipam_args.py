"""The `pycni ipam cluster-show` and `pycni ipam gc` argument parsers, apart from their implementation.

`pycni` builds every parser at start; the commands themselves (pycni.cli.cluster_ipam_cmds, which loads the
etcd client and the allocator, ~60 ms) are imported only when one of them runs.
"""

from __future__ import annotations

import argparse


def _show(ns: argparse.Namespace) -> int:
    from pycni.cli import cluster_ipam_cmds as cmds  # lazy: a sub-command loads only its own module

    return cmds.guard(cmds.show, ns.conf, ns.json)


def _gc(ns: argparse.Namespace) -> int:
    from pycni.cli import cluster_ipam_cmds as cmds  # lazy: a sub-command loads only its own module

    return cmds.guard(cmds.gc, ns.conf, [n for n in ns.live_nodes.split(",") if n], ns.dry_run)


def add_parsers(isub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `cluster-show` and `gc` under `pycni ipam`."""
    sh = isub.add_parser("cluster-show", help="cluster-ipam: addresses, blocks and nodes of a network in etcd",
                         description="Read a cluster-ipam network's state from etcd: addresses used and blocks "
                                     "claimed per range, attachments and blocks per node.")
    sh.add_argument("conf", help="the network config file (.conf or .conflist) using cluster-ipam")
    sh.add_argument("--json", action="store_true", help="print JSON instead of text")
    sh.set_defaults(func=_show)
    g = isub.add_parser("gc", help="cluster-ipam: release what nodes no longer alive hold",
                        description="Release every attachment (address keys and handle, one txn each) and then "
                                    "every block of the nodes NOT named in --live-nodes. Nodes that are gone "
                                    "cannot run CNI GC; run this from anywhere with the list of live nodes.")
    g.add_argument("conf", help="the network config file (.conf or .conflist) using cluster-ipam")
    g.add_argument("--live-nodes", required=True, help="comma-separated names of the nodes that are alive")
    g.add_argument("--dry-run", action="store_true", help="only print what would be released")
    g.set_defaults(func=_gc)
