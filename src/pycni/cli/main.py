"""The `pycni` command. Sub-commands live in their own modules and are imported on use."""

from __future__ import annotations

import argparse
import sys

from pycni.cli import cluster_ipam_args


def _install_plugins(ns: argparse.Namespace) -> int:
    from pycni.cli.install import InstallError, install  # lazy: a sub-command loads only its own module

    try:
        paths = install(ns.dir, ns.only or None, python=ns.python)
    except InstallError as exc:
        print(f"pycni install-plugins: error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def _demo(ns: argparse.Namespace) -> int:
    from pycni.cli.demo import main as demo_main  # lazy: a sub-command loads only its own module

    return demo_main(keep=ns.keep, flows=ns.flows)


def _runtime(ns: argparse.Namespace) -> int:
    from pycni.cli.runtime_cmds import run  # lazy: a sub-command loads only its own module

    return run(ns)


def _add_runtime_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """add/check/del/gc/status: cnitool's commands (see pycni.cli.runtime_cmds)."""
    helps = {
        "add": "run the network's plugin chain with ADD for NETNS and print the result",
        "check": "run the network's plugin chain with CHECK for NETNS",
        "del": "run the network's plugin chain with DEL (in reverse) for NETNS",
        "gc": "DEL the network's stale cached attachments, then GC every plugin (1.1.0+)",
        "status": "ask every plugin of the network for STATUS (1.1.0+; NETNS is ignored)",
    }
    for name, text in helps.items():
        rp = sub.add_parser(
            name, help=text,
            description=(text + ". As cnitool: configs from NETCONFPATH (default /etc/cni/net.d), plugins on "
                         "CNI_PATH, CNI_ARGS and CAP_ARGS (a JSON object) passed on, the container ID derived "
                         "from the netns path."),
        )
        rp.add_argument("network", help="the network name (the config's \"name\")")
        rp.add_argument("netns", help="the network namespace path, e.g. /run/netns/ctr1")
        rp.add_argument("-i", "--ifname", default="", help="interface name (default: $CNI_IFNAME, else eth0)")
        rp.add_argument("--container-id", default="", help="container ID (default: cnitool-<hash of the netns path>)")
        rp.add_argument("--cache-dir", default="", help="result cache directory (default /var/lib/cni)")
        rp.add_argument("--in-process", action="store_true",
                        help="run pycni's own plugins inside this process instead of executing them")
        if name == "gc":
            rp.add_argument("--valid-attachment", nargs=2, action="append", metavar=("CONTAINERID", "IFNAME"),
                            help="an attachment to keep (repeatable); without any, every cached one is DELeted")
        rp.set_defaults(func=_runtime)


def _ipam_show(ns: argparse.Namespace) -> int:
    from pycni.cli.ipam_show import run  # lazy: a sub-command loads only its own module

    return run(ns.data_dir, ns.network, ns.json)


def _add_ipam_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ipam show`: host-local pools from the store (see pycni.cli.ipam_show)."""
    ipam = sub.add_parser("ipam", help="inspect IPAM state on this host")
    isub = ipam.add_subparsers(dest="ipam_command", required=True)
    show = isub.add_parser(
        "show", help="host-local pools: capacity, used, free and holders per network and range",
        description=("Read host-local's data directory (the reference layout; pycni's index when current) and "
                     "print, per network and range set, capacity, used and free addresses and who holds them. "
                     "Range sets are known once a pycni command has run on the network; otherwise capacity "
                     "is shown as unknown."),
    )
    show.add_argument("network", nargs="?", help="only this network (default: every network in the data dir)")
    show.add_argument("--data-dir", default="", help="host-local dataDir (default /var/lib/cni/networks)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_ipam_show)
    cluster_ipam_args.add_parsers(isub)  # cluster-ipam: `ipam cluster-show`, `ipam gc`


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pycni", description="CNI reference plugins in Python.")
    sub = p.add_subparsers(dest="command", required=True)
    ip = sub.add_parser(
        "install-plugins",
        help="write the drop-in plugin executables into DIR",
        description=(
            "Write one executable per implemented plugin into DIR, named exactly as the reference "
            "plugins (static, host-local, ptp, ...), so existing network configs and CNI_PATH work "
            "unchanged. Each runs this interpreter (or --python) isolated (-I -S) and imports only its "
            "plugin, from modules precompiled into DIR/.pycni/<plugin>.bundle while their sources are "
            "unchanged. Re-running replaces the files atomically."
        ),
    )
    ip.add_argument("dir", help="target directory, e.g. /opt/cni/bin")
    ip.add_argument("--only", nargs="*", metavar="NAME", help="install just these plugins")
    ip.add_argument("--python", metavar="PATH",
                    help="the interpreter the plugins run (CPython 3.11+ that can import this pycni; "
                         "default: this one). A distro build with PGO/LTO and a static libpython starts "
                         "faster than e.g. a pyenv --enable-shared build")
    ip.set_defaults(func=_install_plugins)
    dm = sub.add_parser(
        "demo",
        help="ECMP end to end in throwaway namespaces (needs root)",
        description=(
            "Create namespaces, a bridge with two gateways and a container attached with pycni's bridge "
            "plugin and static IPAM whose default routes name both gateways; show the result, the kernel's "
            "multipath routes and how real UDP flows split between the gateways; then remove everything."
        ),
    )
    dm.add_argument("--keep", action="store_true", help="leave the namespaces for inspection")
    dm.add_argument("--flows", type=int, default=64, help="number of UDP flows per family (default 64)")
    dm.set_defaults(func=_demo)
    _add_runtime_parsers(sub)
    _add_ipam_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    return int(ns.func(ns) or 0)


if __name__ == "__main__":
    sys.exit(main())
