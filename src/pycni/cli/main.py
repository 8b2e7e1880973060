"""The `pycni` command. Sub-commands live in their own modules and are imported on use."""

from __future__ import annotations

import argparse
import sys


def _install_plugins(ns: argparse.Namespace) -> int:
    from pycni.cli.install import install

    for path in install(ns.dir, ns.only or None):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pycni", description="CNI reference plugins in Python.")
    sub = p.add_subparsers(dest="command", required=True)
    ip = sub.add_parser(
        "install-plugins",
        help="write the drop-in plugin executables into DIR",
        description=(
            "Write one executable per implemented plugin into DIR, named exactly as the reference "
            "plugins (static, host-local, ptp, ...), so existing network configs and CNI_PATH work "
            "unchanged. Each runs this interpreter isolated (-I -S) and imports only its plugin. "
            "Re-running replaces the files atomically."
        ),
    )
    ip.add_argument("dir", help="target directory, e.g. /opt/cni/bin")
    ip.add_argument("--only", nargs="*", metavar="NAME", help="install just these plugins")
    ip.set_defaults(func=_install_plugins)
    return p


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    return int(ns.func(ns) or 0)


if __name__ == "__main__":
    sys.exit(main())
