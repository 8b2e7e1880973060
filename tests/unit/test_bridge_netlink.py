"""pycni.linux.bridge without a kernel: the rtnetlink payloads it builds (byte for byte, against layouts written out
here from linux/if_link.h and linux/if_bridge.h, which is what the Go netlink library sends), VLAN dump parsing,
and the macspoofchk nft JSON transactions."""

from __future__ import annotations

import struct

import pytest

from pycni.linux import bridge as lb

NESTED = 0x8000


def attr(t: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * ((-n) % 4)


def ifinfo(family: int = 0, index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", family, 0, index, flags, change)


def test_bridge_add_plain() -> None:
    want = ifinfo() + attr(3, b"cni0\0") + attr(18 | NESTED, attr(1, b"bridge\0"))
    assert lb.bridge_add_payload("cni0") == want


def test_bridge_add_with_mtu_and_vlan_filtering() -> None:
    info = attr(1, b"bridge\0") + attr(2 | NESTED, attr(7, b"\x01"))
    want = ifinfo() + attr(3, b"br0\0") + attr(4, struct.pack("=I", 1400)) + attr(18 | NESTED, info)
    assert lb.bridge_add_payload("br0", 1400, True) == want
    # mtu 0 (or negative) is not sent: the kernel default applies
    assert lb.bridge_add_payload("br0", 0, True) == ifinfo() + attr(3, b"br0\0") + attr(18 | NESTED, info)
    assert lb.bridge_add_payload("br0", -5) == lb.bridge_add_payload("br0")


def test_bridge_add_vlan_filtering_false_is_explicit() -> None:
    info = attr(1, b"bridge\0") + attr(2 | NESTED, attr(7, b"\x00"))
    assert lb.bridge_add_payload("b", vlan_filtering=False) == ifinfo() + attr(3, b"b\0") + attr(18 | NESTED, info)


def test_promisc() -> None:
    assert lb.promisc_payload(7, True) == ifinfo(index=7, flags=0x100, change=0x100)
    assert lb.promisc_payload(7, False) == ifinfo(index=7, flags=0, change=0x100)


@pytest.mark.parametrize("attr_type, value", [(4, True), (4, False), (33, True), (8, False)])
def test_brport_flag(attr_type: int, value: bool) -> None:
    want = ifinfo(family=7, index=12) + attr(12 | NESTED, attr(attr_type, bytes([value])))
    assert lb.brport_payload(12, attr_type, value) == want


def test_brport_constants() -> None:
    assert (lb.IFLA_BRPORT_MODE, lb.IFLA_BRPORT_LEARNING, lb.IFLA_BRPORT_ISOLATED) == (4, 8, 33)
    assert (lb.AF_BRIDGE, lb.IFLA_PROTINFO, lb.IFLA_AF_SPEC) == (7, 12, 26)


def test_vlan_add_access_port() -> None:
    # BridgeVlanAdd(link, vid, pvid=true, untagged=true, self=false, master=true)
    spec = attr(0, struct.pack("=H", 1)) + attr(2, struct.pack("=HH", 2 | 4, 10))
    assert lb.vlan_payload(5, 10, pvid=True, untagged=True, master=True) == ifinfo(family=7, index=5) + attr(26, spec)


def test_vlan_trunk_entry_and_self_flag() -> None:
    spec = attr(0, struct.pack("=H", 1)) + attr(2, struct.pack("=HH", 0, 4094))
    assert lb.vlan_payload(5, 4094, master=True) == ifinfo(family=7, index=5) + attr(26, spec)
    spec = attr(0, struct.pack("=H", 3)) + attr(2, struct.pack("=HH", 0, 1))
    assert lb.vlan_payload(5, 1, master=True, self_=True) == ifinfo(family=7, index=5) + attr(26, spec)
    # no flags attribute at all when neither self nor master (the kernel then means "master")
    assert lb.vlan_payload(5, 1) == ifinfo(family=7, index=5) + attr(26, attr(2, struct.pack("=HH", 0, 1)))


@pytest.mark.parametrize("vid", [0, 4095, -1])
def test_vlan_payload_rejects_bad_vid(vid: int) -> None:
    with pytest.raises(lb.BridgeError):
        lb.vlan_payload(1, vid)


def test_vlan_dump_request() -> None:
    assert lb.vlan_dump_payload() == ifinfo(family=7) + attr(29, struct.pack("=I", 2))


def test_parse_vlan_dump() -> None:
    spec = attr(2, struct.pack("=HH", 6, 1)) + attr(2, struct.pack("=HH", 0, 100)) + attr(99, b"junk")
    port = ifinfo(family=7, index=9) + attr(3, b"veth0\0") + attr(26, spec)
    other = ifinfo(family=7, index=3) + attr(3, b"br0\0")
    assert lb.parse_vlan_dump([port, other, b"short"]) == {9: [(6, 1), (0, 100)]}


# --- macspoofchk ---------------------------------------------------------------------------------------------------


def test_spoofcheck_names() -> None:
    ref = lb.spoof_ref_id("cid1", "eth0")
    assert ref == "cid1-eth0"
    assert lb.spoof_iface_chain(ref) == "cni-br-iface-cid1-eth0"
    assert lb.spoof_mac_chain(ref) == "cni-br-iface-cid1-eth0-mac"
    assert lb.spoof_comment(ref) == "macspoofchk-cid1-eth0"


def test_spoofcheck_setup_transactions() -> None:
    base, rules = lb.spoof_setup_configs("veth1234abcd", "0a:58:0a:58:07:99", "cid1-eth0")
    fam = {"family": "bridge", "table": "nat"}
    assert base == {"nftables": [
        {"add": {"table": {"family": "bridge", "name": "nat"}}},
        {"add": {"chain": dict(fam, name="PREROUTING", type="filter", hook="prerouting", prio=-300,
                               policy="accept")}},
        {"add": {"chain": dict(fam, name="cni-br-iface-cid1-eth0")}},
        {"add": {"chain": dict(fam, name="cni-br-iface-cid1-eth0-mac")}},
    ]}
    comment = "macspoofchk-cid1-eth0"
    assert rules == {"nftables": [
        {"flush": {"chain": dict(fam, name="cni-br-iface-cid1-eth0")}},
        {"flush": {"chain": dict(fam, name="cni-br-iface-cid1-eth0-mac")}},
        {"add": {"rule": dict(fam, chain="PREROUTING", comment=comment, expr=[
            {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "veth1234abcd"}},
            {"jump": {"target": "cni-br-iface-cid1-eth0"}}])}},
        {"add": {"rule": dict(fam, chain="cni-br-iface-cid1-eth0", comment=comment, expr=[
            {"jump": {"target": "cni-br-iface-cid1-eth0-mac"}}])}},
        {"add": {"rule": dict(fam, chain="cni-br-iface-cid1-eth0-mac", comment=comment, expr=[
            {"match": {"op": "==", "left": {"payload": {"protocol": "ether", "field": "saddr"}},
                       "right": "0a:58:0a:58:07:99"}},
            {"return": None}])}},
        {"add": {"rule": dict(fam, chain="cni-br-iface-cid1-eth0-mac", comment=comment, expr=[{"drop": None}])}},
    ]}


def test_spoofcheck_teardown_transactions() -> None:
    rules = [{"handle": 4, "comment": "macspoofchk-cid1-eth0"}, {"handle": 5, "comment": "macspoofchk-cid2-eth0"},
             {"handle": 6}, {"handle": 7, "comment": "macspoofchk-cid1-eth0"}]
    dels, chains = lb.spoof_teardown_configs("cid1-eth0", rules)
    fam = {"family": "bridge", "table": "nat"}
    assert dels == {"nftables": [{"delete": {"rule": dict(fam, chain="PREROUTING", handle=4)}},
                                 {"delete": {"rule": dict(fam, chain="PREROUTING", handle=7)}}]}
    assert chains == {"nftables": [{"delete": {"chain": dict(fam, name="cni-br-iface-cid1-eth0")}},
                                   {"delete": {"chain": dict(fam, name="cni-br-iface-cid1-eth0-mac")}}]}
    assert lb.spoof_teardown_configs("cidX-eth0", rules)[0] is None


def test_spoofcheck_teardown_error_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_list() -> list:
        raise lb.NftError("failed to run nft: Error: No such file or directory")

    def fail_apply(cfg: dict) -> None:
        raise lb.NftError("failed to run nft: Error: Could not process rule: No such file or directory")

    monkeypatch.setattr(lb, "_nft_prerouting_rules", fail_list)
    monkeypatch.setattr(lb, "_nft_apply", fail_apply)
    with pytest.raises(lb.BridgeError) as ei:
        lb.spoofcheck_teardown("cid1-eth0")
    assert str(ei.value) == ("failed to teardown spoof-check: failed to run nft: Error: No such file or directory, "
                             "failed to delete regular chains: failed to run nft: Error: Could not process rule: "
                             "No such file or directory")


def test_spoofcheck_teardown_no_rule_only_chain_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    applied = []
    monkeypatch.setattr(lb, "_nft_prerouting_rules", lambda: [])
    monkeypatch.setattr(lb, "_nft_apply", applied.append)
    lb.spoofcheck_teardown("cid1-eth0")
    assert len(applied) == 1 and "delete" in applied[0]["nftables"][0]
    assert "unable to detect iface match rule" in capsys.readouterr().err


def test_oper_state_names_match_go_netlink() -> None:
    assert [lb.OPER_STATE_NAMES[i] for i in range(7)] == [
        "unknown", "not-present", "down", "lower-layer-down", "testing", "dormant", "up"]
