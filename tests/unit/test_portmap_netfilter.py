"""pycni.linux.netfilter without root: go-iptables/knftables semantics over the fake iptables and nft of
fakenetfilter.py."""

from __future__ import annotations

import socket

import pytest
from fakenetfilter import NO_CHAIN, FakeNetfilter

from pycni.linux import netfilter as nf
from pycni.linux.spawn import Completed


def test_go_list_formats_like_go() -> None:
    assert nf.go_list(["-j", "X"]) == "[-j X]"
    assert nf.go_list([["-p", "tcp"], ["-j", "DNAT"]]) == "[[-p tcp] [-j DNAT]]"
    assert nf.go_list([]) == "[]"


def test_iptables_missing_binary_is_gos_lookpath_error(fake: FakeNetfilter) -> None:
    fake.missing.add("ip6tables")
    with pytest.raises(nf.ExecNotFoundError) as ei:
        nf.IPTables(True)
    assert str(ei.value) == 'exec: "ip6tables": executable file not found in $PATH'
    assert nf.IPTables(False).proto == 0


def test_iptables_error_text_is_go_iptables(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(False)
    with pytest.raises(nf.IPTablesError) as ei:
        ipt.run("-t", "nat", "-F", "NOPE")
    e = ei.value
    assert str(e) == f"running [/usr/sbin/iptables -t nat -F NOPE --wait]: exit status 1: {NO_CHAIN}"
    assert e.exit_status == 1 and e.is_not_exist()


def test_exists_and_chain_exists_map_exit_1_to_false(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(False)
    assert ipt.chain_exists("nat", "OUTPUT")
    assert not ipt.chain_exists("nat", "NOPE")
    assert not ipt.exists("nat", "OUTPUT", ["-j", "ACCEPT"])
    with pytest.raises(nf.IPTablesError):  # exit 2 is an error, not "absent"
        ipt.exists("nat", "OUTPUT", ["-j", "NOPE"])


def test_ensure_chain_insert_unique_and_delete_rule(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(True)
    ipt.ensure_chain("filter", "X")
    ipt.ensure_chain("filter", "X")
    ipt.insert_unique("filter", "X", False, ["-j", "ACCEPT"])
    ipt.insert_unique("filter", "X", True, ["-j", "DROP"])
    ipt.insert_unique("filter", "X", True, ["-j", "DROP"])
    assert fake.ipt.rules(True, "filter", "X") == [["-j", "DROP"], ["-j", "ACCEPT"]]
    assert fake.ipt.rules(False, "filter", "X") == []
    ipt.delete_rule("filter", "X", ["-j", "RETURN"])  # absent: fine
    ipt.delete_rule("filter", "NOPE", ["-j", "RETURN"])
    fake.ipt.fail_when(lambda p, a: a[2] == "-D", 4, "iptables: weird.\n")
    with pytest.raises(nf.NetfilterError, match=r"^Failed to delete referring rule filter X: running "):
        ipt.delete_rule("filter", "X", ["-j", "DROP"])


def test_ensure_chain_wraps_probe_failure(fake: FakeNetfilter) -> None:
    fake.ipt.fail_when(lambda p, a: a[2] == "-S", 3, "iptables: locked.\n")
    with pytest.raises(nf.NetfilterError, match=r"^failed to check iptables chain existence: running \[/usr/sbin/iptables -t nat -S C 1 --wait\]: exit status 3"):
        nf.IPTables(False).ensure_chain("nat", "C")


def test_list_strips_trailing_line(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(False)
    ipt.append("nat", "OUTPUT", ["-m", "comment", "--comment", 'a "b"', "-j", "ACCEPT"])
    assert ipt.list("nat", "OUTPUT") == ["-P OUTPUT ACCEPT", '-A OUTPUT -m comment --comment "a \\"b\\"" -j ACCEPT']


def test_supports_iptables_and_nftables(fake: FakeNetfilter) -> None:
    assert nf.supports_iptables()
    assert nf.supports_nftables()
    assert fake.nft.calls[-1] == ["--check", "-f", "-"]
    fake.missing.update({"iptables", "nft"})
    assert not nf.supports_iptables()
    assert not nf.supports_nftables()


def test_supports_nftables_rejects_old_nft(fake: FakeNetfilter, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fake.nft.__call__

    def old(argv: list[str], **kw: object) -> Completed:
        if argv[1:] == ["--version"]:
            return Completed(argv, 0, "nftables v1.0.0 (Fearless Fosdick #3)\n", "")
        return real(argv, **kw)

    monkeypatch.setattr(fake, "nft", old)
    assert not nf.supports_nftables()


def test_nft_errors_and_listing(fake: FakeNetfilter) -> None:
    with pytest.raises(nf.NftError) as ei:
        nf.nft_list_rules("ip", "cni_hostport", "hostports")
    assert ei.value.not_found and str(ei.value).startswith("failed to run nft: Error: No such file or directory")
    fake.nft.chains[("ip", "cni_hostport", "hostports")] = [(4, "cid"), (5, None)]
    assert nf.nft_list_rules("ip", "cni_hostport", "hostports") == [(4, "cid"), (5, None)]
    fake.nft.fail_script = "Error: Could not process rule: File exists\n"
    with pytest.raises(nf.NftError) as ei:
        nf.nft_run("add table ip x\n")
    assert ei.value.exists and not ei.value.not_found
    fake.missing.add("nft")
    with pytest.raises(nf.NftError, match=r'^could not find nftables binary: exec: "nft": executable file not found'):
        nf.nft_list_rules("ip", "cni_hostport", "hostports")


def test_nft_str_quotes() -> None:
    assert nf.nft_str("CNI portmap plugin") == '"CNI portmap plugin"'
    assert nf.nft_str('a"b\\') == '"a\\"b\\\\"'


# --- ctnetlink flow matching -------------------------------------------------------------------


def _flow(proto: int, dport: int) -> bytes:
    from pycni.netlink import codec as c

    ip = c.pack_nested(1, [c.pack_attr(1, socket.inet_aton("10.0.0.1")), c.pack_attr(2, socket.inet_aton("10.0.0.2"))])
    pr = c.pack_nested(2, [c.pack_attr(1, bytes((proto,))), c.pack_attr(2, (1234).to_bytes(2, "big")),
                           c.pack_attr(3, dport.to_bytes(2, "big"))])
    return c.pack_nested(nf.CTA_TUPLE_ORIG, [ip, pr]) + c.pack_u32(12, 7)


def test_conntrack_flow_match_uses_original_tuple_proto_and_port() -> None:
    assert nf._ct_matches(_flow(17, 5353), nf.PROTO_UDP, 5353)
    assert not nf._ct_matches(_flow(6, 5353), nf.PROTO_UDP, 5353)
    assert not nf._ct_matches(_flow(17, 5354), nf.PROTO_UDP, 5353)
    assert not nf._ct_matches(b"", nf.PROTO_UDP, 5353)
