"""The linkinfo verbs (default route device, delete in a netns, rename, link detail) and the fake kernel's netns
errors, on the in-memory rtnetlink of fakekernel.py (no root)."""

from __future__ import annotations

import errno
import sys
from socket import AF_INET, AF_INET6

import pytest
from fakekernel import HOST, FakeKernel

from pycni.linux import linkinfo
from pycni.netlink import codec as c
from pycni.netlink.netns import NetNSError
from pycni.netlink.socket import NetlinkError


def test_default_route_ifname_is_first_main_table_default_route(kernel: FakeKernel) -> None:
    up0 = kernel.add_link(HOST, "up0")
    up1 = kernel.add_link(HOST, "up1")
    ns = kernel.ns[HOST]
    ns.routes.append(c.Route(family=AF_INET6, dst=None, dst_len=0, oif=up1.index))
    ns.routes.append(c.Route(family=AF_INET, dst="10.0.0.0", dst_len=8, oif=up1.index))
    ns.routes.append(c.Route(family=AF_INET, dst=None, dst_len=0, oif=up1.index, table=100))
    ns.routes.append(c.Route(family=AF_INET, dst=None, dst_len=0, oif=up0.index))
    assert linkinfo.default_route_ifname() == "up0"  # IPv4 dumped first; table 100 ignored


def test_default_route_ifname_falls_back_to_ipv6_default(kernel: FakeKernel) -> None:
    up1 = kernel.add_link(HOST, "up1")
    kernel.ns[HOST].routes.append(c.Route(family=AF_INET6, dst=None, dst_len=0, oif=up1.index))
    assert linkinfo.default_route_ifname() == "up1"


def test_default_route_ifname_without_default_route(kernel: FakeKernel) -> None:
    with pytest.raises(ValueError, match="^no default route interface found$"):
        linkinfo.default_route_ifname()


def test_del_link_in_netns_tolerates_missing_link_and_netns(kernel: FakeKernel) -> None:
    kernel.add_ns("/cont")
    kernel.add_link("/cont", "eth0")
    linkinfo.del_link_in_netns("/cont", "eth0")
    assert kernel.names("/cont") == ["lo"]
    linkinfo.del_link_in_netns("/cont", "eth0")  # already gone
    linkinfo.del_link_in_netns("/gone", "eth0")  # namespace gone


def test_del_link_in_netns_reports_delete_failure(kernel: FakeKernel) -> None:
    kernel.add_ns("/cont")
    kernel.add_link("/cont", "eth0")
    kernel.fail[(c.RTM_DELLINK, "")] = errno.EBUSY
    with pytest.raises(NetlinkError, match='^failed to delete "eth0": device or resource busy$'):
        linkinfo.del_link_in_netns("/cont", "eth0")


def test_rename_link_errors_are_raw(kernel: FakeKernel) -> None:
    kernel.add_link(HOST, "a")
    kernel.add_link(HOST, "b")
    with pytest.raises(NetlinkError, match="^file exists$"):
        linkinfo.rename_link("a", "b")
    with pytest.raises(NetlinkError, match="^Link not found$"):
        linkinfo.rename_link("zz", "b")
    linkinfo.rename_link("a", "c")
    assert kernel.names(HOST) == ["b", "c", "lo"]


def test_link_detail_reads_kind_data_and_alias(kernel: FakeKernel) -> None:
    lk = kernel.add_link(HOST, "mv0", "macvlan", data={linkinfo.IFLA_MACVLAN_MODE: (8).to_bytes(4, sys.byteorder)})
    linkinfo.link_set_alias(lk.index, "orig")
    d = linkinfo.link_detail("mv0")
    assert (d.kind, d.link.alias, linkinfo.u32(d.data, linkinfo.IFLA_MACVLAN_MODE)) == ("macvlan", "orig", 8)
    linkinfo.link_set_alias(lk.index, "")
    assert linkinfo.link_detail("mv0").link.alias is None


def test_netns_errors_are_the_fake_text(kernel: FakeKernel) -> None:
    from pycni.netlink import netns as netns_mod

    with pytest.raises(NetNSError, match='^failed to Statfs "/nope": no such file or directory$'):
        netns_mod.check_netns_path("/nope")
