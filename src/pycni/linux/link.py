"""Link verbs over rtnetlink: look up, set up/down, MTU, delete, move to a netns, create veth pairs.

Everything acts on the namespace of the calling thread (or of the socket passed in `nl`); nothing here switches
namespaces except setup_veth, which visits the host namespace it is given (as the reference does). Errors are the
socket layer's NetlinkError family, with the reference's wrapped text where the reference wraps.
"""

from __future__ import annotations

import errno as _errno
import os

from pycni.linux import sysctl
from pycni.netlink import codec as c
from pycni.netlink.netns import netns, open_netns
from pycni.netlink.socket import ExistsError, LinkNotFoundError, NetlinkError, NetlinkSocket, scoped

Link = c.Link


def _index(link: Link | int) -> int:
    return link if isinstance(link, int) else link.index


def get_link_payload(request: bytes, nl: NetlinkSocket | None = None) -> bytes:
    """The RTM_NEWLINK payload answering an RTM_GETLINK `request` (a link named or indexed);
    LinkNotFoundError ("Link not found") when the kernel knows no such link."""
    with scoped(nl) as s:
        try:
            msgs = s.query(c.RTM_GETLINK, request)
        except NetlinkError as e:
            if e.errno == _errno.ENODEV:
                raise LinkNotFoundError() from None
            raise
    for m in msgs:
        if m.type == c.RTM_NEWLINK:
            return m.payload
    raise LinkNotFoundError()


def link_by_name(name: str, nl: NetlinkSocket | None = None) -> Link:
    """LinkNotFoundError ("Link not found") when absent."""
    return c.unpack_link(get_link_payload(c.pack_link(Link(name=name)), nl))


def link_by_index(index: int, nl: NetlinkSocket | None = None) -> Link:
    return c.unpack_link(get_link_payload(c.pack_ifinfomsg(index=index), nl))


def link_list(nl: NetlinkSocket | None = None) -> list[Link]:
    with scoped(nl) as s:
        msgs = s.dump(c.RTM_GETLINK, c.pack_ifinfomsg())
    return [c.unpack_link(m.payload) for m in msgs if m.type == c.RTM_NEWLINK]


def _set_flags(link: Link | int, up: bool, nl: NetlinkSocket | None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_ifinfomsg(index=_index(link), flags=c.IFF_UP if up else 0, change=c.IFF_UP))


def link_set_up(link: Link | int, nl: NetlinkSocket | None = None) -> None:
    _set_flags(link, True, nl)


def link_set_down(link: Link | int, nl: NetlinkSocket | None = None) -> None:
    _set_flags(link, False, nl)


def link_set_mtu(link: Link | int, mtu: int, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_link(Link(index=_index(link), mtu=mtu)))


def link_set_name(link: Link | int, name: str, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_link(Link(index=_index(link), name=name)))


def link_set_hwaddr(link: Link | int, mac: str, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_link(Link(index=_index(link), address=mac)))


def link_set_master(link: Link | int, master: Link | int, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_link(Link(index=_index(link), master=_index(master))))


def link_set_netns_fd(link: Link | int, ns_fd: int, nl: NetlinkSocket | None = None) -> None:
    """Move the link into the namespace behind ns_fd (it disappears from the current one)."""
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_link(Link(index=_index(link), netns_fd=ns_fd)))


def link_del(link: Link | int, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_DELLINK, c.pack_ifinfomsg(index=_index(link)))


def del_link_by_name(name: str, nl: NetlinkSocket | None = None) -> None:
    """The reference's DelLinkByName: LinkNotFoundError if absent, else wrapped lookup/delete errors."""
    with scoped(nl) as s:
        try:
            link = link_by_name(name, s)
        except LinkNotFoundError:
            raise
        except NetlinkError as e:
            raise NetlinkError(e.errno or 0, f'failed to lookup "{name}": {e}') from None
        try:
            link_del(link, s)
        except NetlinkError as e:
            raise NetlinkError(e.errno or 0, f'failed to delete "{name}": {e}') from None


def random_veth_name() -> str:
    """"veth" + 8 hex digits from the OS's CSPRNG (NetworkManager ignores veth* names)."""
    return "veth" + os.urandom(4).hex()


def add_veth(name: str, peer_name: str, *, peer_ns_fd: int | None = None, mtu: int = 0, mac: str | None = None,
             nl: NetlinkSocket | None = None) -> None:
    """Create veth `name` here with its peer `peer_name`, the peer placed in the namespace behind peer_ns_fd.
    MTU (when > 0) is set on both ends, as the Go netlink library does; mac is the local end's address."""
    peer = Link(name=peer_name, netns_fd=peer_ns_fd, mtu=mtu if mtu > 0 else None)
    local = Link(name=name, kind="veth", peer=peer, mtu=mtu if mtu > 0 else None, address=mac)
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, c.pack_link(local), c.NLM_F_CREATE | c.NLM_F_EXCL)


class VethError(NetlinkError):
    """A veth pair could not be made; text as the reference's SetupVeth errors."""


def make_veth(name: str, peer_name: str, mtu: int, mac: str, host_ns_fd: int,
              nl: NetlinkSocket | None = None) -> tuple[str, Link]:
    """The reference's makeVeth: up to 10 tries with a random peer name when peer_name is empty.
    Returns (peer name, the container-side link re-read after creation)."""
    if mac:
        try:
            c.parse_mac(mac)
        except c.MACError as e:
            raise VethError(_errno.EINVAL, f"failed to make veth pair: {e}") from None
    with scoped(nl) as s:
        for _ in range(10):
            peer = peer_name or random_veth_name()
            try:
                add_veth(name, peer, peer_ns_fd=host_ns_fd, mtu=mtu, mac=mac or None, nl=s)
            except ExistsError:
                # Only a clash on a random peer name is worth another try. The reference probes the *peer* name
                # in the container namespace, where it never is; the clash is on the host side, so pycni instead
                # retries unless the container-side name is the one that exists.
                if not peer_name and not _exists(name, s):
                    continue
                raise VethError(_errno.EEXIST,
                                f'container veth name ("{name}") peer provided ("{peer}") already exists') from None
            except NetlinkError as e:
                raise VethError(e.errno or 0, f"failed to make veth pair: {e}") from None
            try:
                return peer, link_by_name(name, s)
            except NetlinkError:
                try:
                    link_del(link_by_name(name, s), s)
                except NetlinkError:
                    pass
                raise
        raise VethError(_errno.EEXIST, "failed to find a unique veth name")


def _exists(name: str, nl: NetlinkSocket) -> bool:
    try:
        link_by_name(name, nl)
    except NetlinkError:
        return False
    return True


def setup_veth(cont_name: str, host_name: str, mtu: int, cont_mac: str, host_ns_path: str) -> tuple[Link, Link]:
    """The reference's SetupVethWithName, called inside the container namespace: create the pair with the host
    end in host_ns_path, bring the host end up and set its accept_ra=0 (best effort). Returns (host, container)."""
    fd = open_netns(host_ns_path)
    try:
        peer, cont = make_veth(cont_name, host_name, mtu, cont_mac, fd)
    finally:
        os.close(fd)
    with netns(host_ns_path), NetlinkSocket() as s:
        try:
            host = link_by_name(peer, s)
        except NetlinkError as e:
            raise NetlinkError(e.errno or 0, f'failed to lookup "{peer}" in "{host_ns_path}": {e}') from None
        try:
            link_set_up(host, s)
        except NetlinkError as e:
            raise NetlinkError(e.errno or 0, f'failed to set "{peer}" up: {e}') from None
        try:
            sysctl.set(f"net/ipv6/conf/{peer}/accept_ra", "0")
        except OSError:
            pass
        host = link_by_index(host.index, s)
    return host, cont
