"""The plugins' checks of CNI_NETNS: "is this a namespace?" with upstream's error texts.

Only checks paths; entering a namespace is `pycni.netlink.netns.netns`. Kernel-facing functions are
called through their module (`netns.check_netns_path`), so the unit tests' fake kernel can stand in.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.netlink import netns
from pycni.netlink.netns import NetNSError, NSPathNotExistError


def check_netns(path: str, verbatim: bool = False) -> None:
    """GetNS: ValueError('failed to open netns "<p>": <reason>') unless path is a namespace. The path is quoted
    as Go's %q; `verbatim` (ptp, bridge: upstream's `"%s"`) puts it between quotes as it is."""
    try:
        netns.check_netns_path(path)
    except NetNSError as exc:
        quoted = f'"{path}"' if verbatim else q(path)
        raise ValueError(f"failed to open netns {quoted}: {exc}") from None


def netns_present(path: str, wrap: bool = False) -> bool:
    """DEL's test of CNI_NETNS: False when it is empty or names no namespace (what was in it is gone); any other
    error is a ValueError with its text, or with `wrap` 'failed to open netns "<p>": <text>'."""
    if path == "":
        return False
    try:
        netns.check_netns_path(path)
    except NSPathNotExistError:
        return False
    except (NetNSError, OSError) as exc:
        raise ValueError(f"failed to open netns {q(path)}: {exc}" if wrap else str(exc)) from None
    return True
