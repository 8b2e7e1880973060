"""CHECK of the container interface (upstream's per-plugin validateCintf) and of its IPs and routes.

Runs in the current netns (the caller enters the container's); never changes anything. The texts vary by
plugin upstream (copy-pasted and drifted), hence the `tag`/`lower`/`kind_text` knobs.
"""

from __future__ import annotations

from pycni.ipam.configure import check_iface
from pycni.linux import linkinfo
from pycni.netlink.socket import NetlinkError

TYPE_CHECKING = False
if TYPE_CHECKING:

    from pycni.linux.linkinfo import LinkDetail
    from pycni.netlink.codec import Link
    from pycni.spec.result import Interface, Result


def _styled(text: str, lower: bool) -> str:
    return text[0].lower() + text[1:] if lower else text


def container_link(intf: Interface, kind: str | None = None, *, tag: str = "", lower: bool = False,
                   kind_text: str | None = None) -> LinkDetail:
    """The prevResult interface has a name, exists in the current netns, is in a sandbox and (with `kind`) is a
    link of that kind. `tag` ("vlan: ") prefixes the texts the reference prefixes (not found, host namespace);
    `lower` lower-cases the first letter of every text (macvlan); `kind_text` names the kind in its text."""
    name = intf.get("name", "")
    if name == "":
        raise ValueError(_styled(f"Container interface name missing in prevResult: {name}", lower))
    try:
        d = linkinfo.link_detail(name)
    except NetlinkError:
        raise ValueError(tag + _styled(f"Container Interface name in prevResult: {name} not found", lower)) from None
    if not intf.get("sandbox"):
        raise ValueError(tag + _styled(f"Error: Container interface {d.link.name} should not be in host namespace",
                                       lower))
    if kind is not None and d.kind != kind:
        raise ValueError(_styled(f"Error: Container interface {d.link.name} not of type {kind_text or kind}", lower))
    return d


def check_container_mac(intf: Interface, lk: Link, *, tag: str = "", lower: bool = False) -> None:
    """The prevResult MAC (when given) is the link's, compared as text."""
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(tag + _styled(f"Interface {intf['name']} Mac {intf['mac']} doesn't match container Mac: "
                                       f"{lk.address or ''}", lower))


def check_ips_routes(ifname: str, result: Result, routes: bool = True) -> None:
    """The reference's ValidateExpectedInterfaceIPs (+ ValidateExpectedRoute), in the current netns."""
    if not routes:
        result = {**result, "routes": []}
    check_iface(ifname, result)
