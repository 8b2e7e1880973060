"""portmap rule generation, exact per backend, and the plugin's verbs over fake iptables/nft (no root)."""

from __future__ import annotations

import json

import pytest
from fakenetfilter import FakeNetfilter

from pycni.linux import netfilter as nf
from pycni.plugins.meta import portmap
from pycni.plugins.meta.portmap import forwarding
from pycni.plugins.meta.portmap import iptables as I
from pycni.plugins.meta.portmap import nftables as N
from pycni.skel import run

DN = "CNI-DN-585d28ce8970197b5e327"  # observed on the reference for network "pmnet", container "cid1"
MAPS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp"},
        {"hostPort": 9090, "containerPort": 90, "protocol": "tcp", "hostIP": "192.0.2.2"}]
PREV = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "br0", "mac": "aa:bb:cc:dd:ee:01"}, {"name": "veth1", "mac": "aa:bb:cc:dd:ee:02"},
                   {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/c"}],
    "ips": [{"interface": 2, "address": "10.88.7.2/24", "gateway": "10.88.7.1"},
            {"interface": 2, "address": "fd00:88:7::2/64", "gateway": "fd00:88:7::1"}],
}


# Unit tests run as root in CI: never let a real iptables/nft/conntrack call through (conftest.py).
pytestmark = pytest.mark.usefixtures("no_real_netfilter")


def pconf(**kw: object) -> dict:
    from pycni.plugins.meta.portmap.config import parse_config

    raw: dict = {"cniVersion": "1.0.0", "name": "pmnet", "type": "portmap", "backend": "iptables",
                 "runtimeConfig": {"portMappings": MAPS}}
    raw.update(kw)
    c, _ = parse_config(raw, "eth0")
    c["containerID"] = "cid1"
    return c


# --- iptables rules --------------------------------------------------------------------------------


def test_chain_names_and_marks() -> None:
    assert I.chain_name("DN-", "pmnet", "cid1") == DN
    assert len(I.chain_name("SN-", "x" * 100, "y")) == 28
    assert I.mark_def(13) == "0x2000/0x2000"
    assert I.mark_def(0) == "0x1/0x1"
    assert I.mark_def(31) == "0x80000000/0x80000000"


def test_dnat_rules_v4_match_the_reference() -> None:
    ch = I.dnat_chain("pmnet", "cid1")
    I.fill_dnat_rules(ch, pconf(), "10.88.7.2/24")
    comment = 'dnat name: "pmnet" id: "cid1"'
    assert ch.entry_rules == [
        ["-m", "comment", "--comment", comment, "-m", "multiport", "-p", "tcp", "--destination-ports", "8080,9090"],
        ["-m", "comment", "--comment", comment, "-m", "multiport", "-p", "udp", "--destination-ports", "5353"],
    ]
    sm = "CNI-HOSTPORT-SETMARK"
    assert ch.rules == [
        ["-p", "tcp", "--dport", "8080", "-s", "10.88.7.2/24", "-j", sm],
        ["-p", "tcp", "--dport", "8080", "-s", "127.0.0.1", "-j", sm],
        ["-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "10.88.7.2:80"],
        ["-p", "udp", "--dport", "5353", "-s", "10.88.7.2/24", "-j", sm],
        ["-p", "udp", "--dport", "5353", "-s", "127.0.0.1", "-j", sm],
        ["-p", "udp", "--dport", "5353", "-j", "DNAT", "--to-destination", "10.88.7.2:53"],
        ["-p", "tcp", "--dport", "9090", "-d", "192.0.2.2", "-s", "10.88.7.2/24", "-j", sm],
        ["-p", "tcp", "--dport", "9090", "-d", "192.0.2.2", "-s", "127.0.0.1", "-j", sm],
        ["-p", "tcp", "--dport", "9090", "-d", "192.0.2.2", "-j", "DNAT", "--to-destination", "10.88.7.2:90"],
    ]


def test_dnat_rules_v6_skip_v4_host_ips_and_localhost() -> None:
    ch = I.dnat_chain("pmnet", "cid1")
    I.fill_dnat_rules(ch, pconf(), "fd00:88:7::2/64")
    sm = "CNI-HOSTPORT-SETMARK"
    assert ch.rules == [
        ["-p", "tcp", "--dport", "8080", "-s", "fd00:88:7::2/64", "-j", sm],
        ["-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "[fd00:88:7::2]:80"],
        ["-p", "udp", "--dport", "5353", "-s", "fd00:88:7::2/64", "-j", sm],
        ["-p", "udp", "--dport", "5353", "-j", "DNAT", "--to-destination", "[fd00:88:7::2]:53"],
    ]
    # entry rules keep every port of the protocol (upstream does not filter them by family)
    assert [r[-1] for r in ch.entry_rules] == ["8080,9090", "5353"]


def test_dnat_rules_masq_all_no_snat_external_chain_conditions() -> None:
    m = [{"hostPort": 1, "containerPort": 2, "protocol": "sctp", "hostIP": "0.0.0.0"}]
    ch = I.dnat_chain("n", "c")
    I.fill_dnat_rules(ch, pconf(masqAll=True, runtimeConfig={"portMappings": m}), "10.0.0.2/8")
    assert ch.rules == [["-p", "sctp", "--dport", "1", "-s", "0.0.0.0/0", "-j", "CNI-HOSTPORT-SETMARK"],
                        ["-p", "sctp", "--dport", "1", "-j", "DNAT", "--to-destination", "10.0.0.2:2"]]
    I.fill_dnat_rules(ch, pconf(masqAll=True, runtimeConfig={"portMappings": [dict(m[0], hostIP="")]}), "fd00::2/64")
    assert ch.rules[0][-3:] == ["::/0", "-j", "CNI-HOSTPORT-SETMARK"]
    I.fill_dnat_rules(ch, pconf(snat=False, runtimeConfig={"portMappings": m}), "10.0.0.2/8")
    assert ch.rules == [["-p", "sctp", "--dport", "1", "-j", "DNAT", "--to-destination", "10.0.0.2:2"]]
    c = pconf(externalSetMarkChain="KUBE-MARK-MASQ", markMasqBit=None, conditionsV4=["-s", "1.2.3.4"],
              conditionsV6=["!", "-s", "::1"], runtimeConfig={"portMappings": m})
    I.fill_dnat_rules(ch, c, "10.0.0.2/8")
    assert ch.rules[0][-2:] == ["-j", "KUBE-MARK-MASQ"] and ch.rules[1][-2:] == ["-j", "KUBE-MARK-MASQ"]
    assert ch.entry_rules[0][-2:] == ["-s", "1.2.3.4"]
    I.fill_dnat_rules(ch, c, "fd00::2/64")
    assert ch.entry_rules[0][-3:] == ["!", "-s", "::1"]


def test_multiport_groups_by_sorted_protocol_15_ports_each() -> None:
    m = [{"hostPort": p, "containerPort": p, "protocol": "udp" if p % 2 else "tcp"} for p in range(1, 41)]
    ch = I.dnat_chain("n", "c")
    I.fill_dnat_rules(ch, pconf(runtimeConfig={"portMappings": m}), "10.0.0.2/8")
    specs = [(r[7], r[9]) for r in ch.entry_rules]
    tcp = [str(p) for p in range(2, 41, 2)]
    udp = [str(p) for p in range(1, 41, 2)]
    assert specs == [("tcp", ",".join(tcp[:15])), ("tcp", ",".join(tcp[15:])),
                     ("udp", ",".join(udp[:15])), ("udp", ",".join(udp[15:]))]
    assert I.split_port_list([]) == []


def test_comment_is_trimmed_to_255() -> None:
    assert I.trim_comment("x" * 255) == "x" * 255
    assert I.trim_comment("x" * 256) == "x" * 253 + "..."


def test_shared_chains() -> None:
    sm, mq, top = I.setmark_chain(13), I.mark_masq_chain(13), I.toplevel_dnat_chain()
    assert sm.rules == [["-m", "comment", "--comment", "CNI portfwd masquerade mark", "-j", "MARK", "--set-xmark",
                         "0x2000/0x2000"]]
    assert mq.rules == [["-m", "mark", "--mark", "0x2000/0x2000", "-j", "MASQUERADE"]]
    assert mq.entry_chains == ["POSTROUTING"] and mq.prepend_entry
    assert top.entry_chains == ["PREROUTING", "OUTPUT"]
    assert top.entry_rules == [["-m", "addrtype", "--dst-type", "LOCAL"]]


def test_forward_ports_builds_the_reference_state(fake: FakeNetfilter,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fake.ipt.chains(False, "nat")["POSTROUTING"].append(["-s", "10.88.7.2", "-j", "CNI-MASQ"])  # ipMasq's rule
    fake.ipt.chains(False, "nat")["CNI-MASQ"] = []
    c = pconf()
    I.forward_ports(c, "10.88.7.2/24")
    I.forward_ports(c, "10.88.7.2/24")  # idempotent
    st = fake.ipt.chains(False, "nat")
    assert st["PREROUTING"] == [["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]]
    assert st["OUTPUT"] == st["PREROUTING"]
    assert st["POSTROUTING"][0] == ["-m", "comment", "--comment", "CNI portfwd requiring masquerade",
                                    "-j", "CNI-HOSTPORT-MASQ"]  # prepended
    assert len(st[DN]) == 9 and len(st["CNI-HOSTPORT-DNAT"]) == 2
    assert fake.ipt.tables.get((True, "nat")) is None  # v4 only
    # external mark chain: no SETMARK/MASQ chains at all
    fake2 = FakeNetfilter()
    monkeypatch.setattr(nf.subprocess, "run", fake2.run)
    fake2.ipt.chains(True, "nat")["MARKIT"] = []  # the runtime's own chain
    I.forward_ports(pconf(externalSetMarkChain="MARKIT", markMasqBit=None), "fd00:88:7::2/64")
    assert "CNI-HOSTPORT-SETMARK" not in fake2.ipt.chains(True, "nat")
    assert fake2.ipt.ops()[0][:4] == ["-t", "nat", "-S", "CNI-HOSTPORT-DNAT"]
    assert fake2.ipt.rules(True, "nat", DN)[0][-2:] == ["-j", "MARKIT"]


def test_forward_ports_error_texts(fake: FakeNetfilter) -> None:  # noqa: F811
    fake.ipt.fail_when(lambda p, a: a[2] == "-N" and a[3] == "CNI-HOSTPORT-MASQ", 3, "iptables: nope.\n")
    with pytest.raises(nf.NetfilterError) as ei:
        I.forward_ports(pconf(), "10.88.7.2/24")
    # sic: upstream names the SETMARK chain when the MASQ chain fails
    assert str(ei.value) == ("unable to create chain CNI-HOSTPORT-SETMARK: running [/usr/sbin/iptables -t nat -N "
                             "CNI-HOSTPORT-MASQ --wait]: exit status 3: iptables: nope.\n")
    fake.ipt.failures.clear()
    fake.ipt.fail_when(lambda p, a: a[2] == "-N" and a[3] == "CNI-HOSTPORT-DNAT", 3, "x\n")
    with pytest.raises(nf.NetfilterError, match="^failed to create top-level DNAT chain: "):
        I.forward_ports(pconf(), "10.88.7.2/24")
    fake.ipt.failures.clear()
    fake.ipt.fail_when(lambda p, a: a[2] == "-N" and a[3] == DN, 3, "x\n")
    with pytest.raises(nf.NetfilterError, match="^unable to setup DNAT: "):
        I.forward_ports(pconf(), "10.88.7.2/24")
    fake.missing.add("ip6tables")
    with pytest.raises(nf.NetfilterError, match='^failed to open iptables: exec: "ip6tables": executable file'):
        I.forward_ports(pconf(), "fd00::2/64")


def test_check_ports_messages(fake: FakeNetfilter) -> None:  # noqa: F811
    c = pconf()
    with pytest.raises(nf.NetfilterError) as ei:
        I.check_ports(c, "10.88.7.2/24")
    assert str(ei.value) == f"could not check ipv4 dnat: chain {DN} not found in iptables table nat"
    I.forward_ports(c, "10.88.7.2/24")
    I.check_ports(c, "10.88.7.2/24")
    fake.ipt.chains(False, "nat")[DN].pop()
    with pytest.raises(nf.NetfilterError) as ei:
        I.check_ports(c, "10.88.7.2/24")
    assert str(ei.value).startswith("could not check ipv4 dnat: rule [[-p tcp --dport 8080 -s 10.88.7.2/24 -j "
                                    "CNI-HOSTPORT-SETMARK] [-p tcp --dport 8080 -s 127.0.0.1 -j CNI-HOSTPORT-SETMARK]")
    assert str(ei.value).endswith(f"] in chain {DN} not found in table nat")
    fake.ipt.chains(False, "nat")["CNI-HOSTPORT-DNAT"].pop()
    I.forward_ports(c, "10.88.7.2/24")  # repairs
    I.check_ports(c, "10.88.7.2/24")
    fake.ipt.chains(False, "nat")["CNI-HOSTPORT-DNAT"].pop()
    with pytest.raises(nf.NetfilterError, match=r"^could not check ipv4 dnat: rule \[\[-m comment --comment dnat name: "
                                                r'"pmnet" id: "cid1" -m multiport .*\] in chain CNI-HOSTPORT-DNAT not found'):
        I.check_ports(c, "10.88.7.2/24")
    fake.missing.add("ip6tables")
    with pytest.raises(nf.NetfilterError) as ei:
        I.check_ports(c, "fd00::2/64")
    assert str(ei.value) == ("neither iptables nor ip6tables is usable, (iptables) <nil>, (ip6tables) exec: "
                             '"ip6tables": executable file not found in $PATH')


def test_unforward_ports_both_families_idempotent(fake: FakeNetfilter) -> None:  # noqa: F811
    c = pconf()
    I.forward_ports(c, "10.88.7.2/24")
    I.forward_ports(c, "fd00:88:7::2/64")
    I.unforward_ports(c)
    for v6 in (False, True):
        st = fake.ipt.chains(v6, "nat")
        assert DN not in st and st["CNI-HOSTPORT-DNAT"] == []
        assert "CNI-HOSTPORT-SETMARK" in st and "CNI-HOSTPORT-MASQ" in st  # shared chains stay
    I.unforward_ports(c)


def test_unforward_ports_finds_foreign_references(fake: FakeNetfilter) -> None:  # noqa: F811
    c = pconf()
    I.forward_ports(c, "10.88.7.2/24")
    # a reference written with other conditions (e.g. by an older config): found by listing
    fake.ipt.chains(False, "nat")["CNI-HOSTPORT-DNAT"].append(["-m", "comment", "--comment", "odd one", "-p", "tcp",
                                                              "-j", DN])
    I.unforward_ports(c)
    assert DN not in fake.ipt.chains(False, "nat")
    assert fake.ipt.chains(False, "nat")["CNI-HOSTPORT-DNAT"] == []


def test_unforward_ports_neither_usable(fake: FakeNetfilter) -> None:  # noqa: F811
    fake.missing.update({"iptables", "ip6tables"})
    with pytest.raises(nf.NetfilterError) as ei:
        I.unforward_ports(pconf())
    assert str(ei.value) == ('neither iptables nor ip6tables is usable, (iptables) exec: "iptables": executable file '
                             'not found in $PATH, (ip6tables) exec: "ip6tables": executable file not found in $PATH')
    fake.missing.discard("iptables")
    I.unforward_ports(pconf())  # one family is enough


def test_old_snat_chain_is_removed_too(fake: FakeNetfilter) -> None:  # noqa: F811
    sn = I.chain_name("SN-", "pmnet", "cid1")
    st = fake.ipt.chains(False, "nat")
    st["CNI-HOSTPORT-SNAT"] = [["-j", sn]]
    st[sn] = [["-j", "MASQUERADE"]]
    I.unforward_ports(pconf())
    assert sn not in st and st["CNI-HOSTPORT-SNAT"] == []


# --- nftables --------------------------------------------------------------------------------------


def test_nft_script_v4() -> None:
    assert N.forward_script(pconf(backend="nftables"), "10.88.7.2/24") == """\
add table ip cni_hostport { comment "CNI portmap plugin" ; }
add chain ip cni_hostport hostports
add chain ip cni_hostport hostip_hostports
add chain ip cni_hostport hostports_all
flush chain ip cni_hostport hostports_all
add rule ip cni_hostport hostports_all jump hostip_hostports
add rule ip cni_hostport hostports_all jump hostports
add chain ip cni_hostport prerouting { type nat hook prerouting priority -100 ; }
flush chain ip cni_hostport prerouting
add rule ip cni_hostport prerouting fib daddr type local jump hostports_all
add chain ip cni_hostport output { type nat hook output priority -100 ; }
flush chain ip cni_hostport output
add rule ip cni_hostport output fib daddr type local jump hostports_all
add chain ip cni_hostport masquerading { type nat hook postrouting priority 100 ; }
add rule ip cni_hostport hostports tcp dport 8080 dnat to 10.88.7.2:80 comment "cid1"
add rule ip cni_hostport hostports udp dport 5353 dnat to 10.88.7.2:53 comment "cid1"
add rule ip cni_hostport hostports ip daddr 192.0.2.2 tcp dport 9090 dnat to 10.88.7.2:90 comment "cid1"
add rule ip cni_hostport masquerading ip saddr 10.88.7.2 ip daddr 10.88.7.2 masquerade comment "cid1"
add rule ip cni_hostport masquerading ip saddr 127.0.0.1 ip daddr 10.88.7.2 masquerade comment "cid1"
"""


def test_nft_script_v6_conditions_masq_all_no_snat() -> None:
    c = pconf(backend="nftables", conditionsV6=["ip6", "saddr", "!=", "::1"], masqAll=True)
    s = N.forward_script(c, "fd00:88:7::2/64").splitlines()
    assert "add rule ip6 cni_hostport prerouting ip6 saddr != ::1 fib daddr type local jump hostports_all" in s
    assert "add rule ip6 cni_hostport hostports tcp dport 8080 dnat to [fd00:88:7::2]:80 comment \"cid1\"" in s
    assert not any("9090" in line for line in s)  # IPv4 hostIP
    assert s[-1] == 'add rule ip6 cni_hostport masquerading ip6 saddr ::/0 ip6 daddr fd00:88:7::2 masquerade comment "cid1"'
    s4 = N.forward_script(pconf(backend="nftables", masqAll=True), "10.88.7.2/24").splitlines()
    assert s4[-1] == 'add rule ip cni_hostport masquerading ip saddr 0.0.0.0/0 ip daddr 10.88.7.2 masquerade comment "cid1"'
    s = N.forward_script(pconf(backend="nftables", snat=False), "10.88.7.2/24")
    assert "masquerad" not in s


def test_nft_unspecified_host_ip_matches_any_destination() -> None:
    m = [{"hostPort": 1, "containerPort": 2, "protocol": "tcp", "hostIP": "::"}]
    s = N.forward_script(pconf(backend="nftables", runtimeConfig={"portMappings": m}), "fd00::2/64")
    assert 'add rule ip6 cni_hostport hostports tcp dport 1 dnat to [fd00::2]:2 comment "cid1"' in s.splitlines()


def test_nft_forward_check_unforward(fake: FakeNetfilter) -> None:  # noqa: F811
    c = pconf(backend="nftables")
    N.forward_ports(c, "10.88.7.2/24")
    assert fake.nft.scripts == [N.forward_script(c, "10.88.7.2/24")]
    with pytest.raises(nf.NftError, match="^failed to run nft: Error: No such file or directory"):
        N.check_ports(c, "10.88.7.2/24")
    fake.nft.chains[("ip", "cni_hostport", "hostports")] = [(1, "cid1"), (2, "other"), (3, "cid1"), (4, "cid1")]
    fake.nft.chains[("ip", "cni_hostport", "masquerading")] = [(5, "cid1")]
    with pytest.raises(nf.NetfilterError) as ei:
        N.check_ports(c, "10.88.7.2/24")
    assert str(ei.value) == 'missing hostport rules in "masquerading" chain'
    fake.nft.chains[("ip", "cni_hostport", "masquerading")].append((6, "cid1"))
    N.check_ports(c, "10.88.7.2/24")
    fake.nft.chains[("ip", "cni_hostport", "hostports")].pop()
    with pytest.raises(nf.NetfilterError, match='^missing hostport rules in "hostports" chain$'):
        N.check_ports(c, "10.88.7.2/24")
    fake.nft.scripts.clear()
    N.unforward_ports(c)
    assert fake.nft.scripts == ["delete rule ip cni_hostport hostports handle 1\n"
                                "delete rule ip cni_hostport hostports handle 3\n"
                                "delete rule ip cni_hostport masquerading handle 5\n"
                                "delete rule ip cni_hostport masquerading handle 6\n"]
    fake.nft.fail_script = "Error: Could not process rule: No such file or directory\n"
    with pytest.raises(nf.NetfilterError, match="^error deleting nftables rules: Error: Could not process rule"):
        N.unforward_ports(c)
    fake.nft.fail_script = "Error: boom\n"
    with pytest.raises(nf.NetfilterError, match="^unable to set up nftables rules for port mappings: Error: boom$"):
        N.forward_ports(c, "10.88.7.2/24")


def test_nft_unforward_without_tables_or_nft(fake: FakeNetfilter) -> None:  # noqa: F811
    N.unforward_ports(pconf(backend="nftables"))
    assert fake.nft.scripts == []
    fake.missing.add("nft")
    N.unforward_ports(pconf(backend="nftables"))


def test_nft_check_counts() -> None:
    c = pconf(backend="nftables")
    assert N._expected_counts(c, False) == (3, 2)
    assert N._expected_counts(c, True) == (2, 1)
    assert N._expected_counts(pconf(backend="nftables", masqAll=True), False) == (3, 1)
    assert N._expected_counts(pconf(backend="nftables", snat=False), False) == (3, 0)


# --- the plugin's verbs ----------------------------------------------------------------------------


class Spy:
    def __init__(self) -> None:
        self.conntrack: list[tuple] = []
        self.localnet: list[str] = []


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, fake: FakeNetfilter) -> Spy:  # noqa: F811
    s = Spy()

    def ct(port: int, proto: int, family: int) -> int:
        s.conntrack.append((port, proto, family))
        return 0

    monkeypatch.setattr(nf, "delete_conntrack_dst_port", ct)
    monkeypatch.setattr(forwarding, "_enable_localnet_routing", lambda ip: s.localnet.append(ip))
    return s


def call(cmd: str, conf: dict) -> tuple[dict | None, str | None]:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": "/run/netns/c", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent"}
    out = run(portmap.PLUGIN, env, json.dumps(conf).encode())
    if out.error is not None:
        assert out.error.code == 999
        return None, out.error.msg
    return (json.loads(out.stdout()) if out.stdout() else None), None


def full(**kw: object) -> dict:
    c: dict = {"cniVersion": "1.0.0", "name": "pmnet", "type": "portmap", "backend": "iptables",
               "runtimeConfig": {"portMappings": MAPS}, "prevResult": PREV}
    c.update(kw)
    return c


def test_add_needs_prev_result_and_prefixes_parse_errors(spy: Spy) -> None:
    assert call("ADD", full(prevResult=None)) == (None, "must be called as chained plugin")
    assert call("ADD", full(markMasqBit=40)) == (None, "failed to parse config: MasqMarkBit must be between 0 and 31")
    assert call("DEL", full(markMasqBit=40)) == (None, "failed to parse config: MasqMarkBit must be between 0 and 31")
    assert call("CHECK", full(markMasqBit=40)) == (None, "MasqMarkBit must be between 0 and 31")
    assert call("CHECK", full(prevResult=None)) == (None, "Required prevResult missing")


def test_add_without_mappings_passes_prev_result_through(spy: Spy, fake: FakeNetfilter) -> None:  # noqa: F811
    res, e = call("ADD", full(runtimeConfig={}))
    assert e is None and res["ips"][0]["address"] == "10.88.7.2/24" and res["cniVersion"] == "1.0.0"
    assert call("DEL", full(runtimeConfig={})) == (None, None)
    assert call("CHECK", full(runtimeConfig={})) == (None, None)
    assert fake.ipt.calls == [] and fake.nft.calls == []


def test_add_dual_stack_iptables(spy: Spy, fake: FakeNetfilter) -> None:  # noqa: F811
    res, e = call("ADD", full())
    assert e is None and res["interfaces"][2]["sandbox"] == "/run/netns/c"
    assert len(fake.ipt.rules(False, "nat", DN)) == 9 and len(fake.ipt.rules(True, "nat", DN)) == 4
    import socket

    assert spy.conntrack == [(5353, 17, socket.AF_INET), (5353, 17, socket.AF_INET6)]
    assert spy.localnet == ["10.88.7.2"]
    assert call("CHECK", full()) == (None, None)
    assert call("DEL", full()) == (None, None)
    assert DN not in fake.ipt.chains(False, "nat") and DN not in fake.ipt.chains(True, "nat")
    assert call("DEL", full()) == (None, None)


def test_add_older_result_version_is_answered_in_the_config_version(spy: Spy) -> None:
    prev = {"cniVersion": "0.4.0", "interfaces": [{"name": "eth0", "sandbox": "/x"}],
            "ips": [{"version": "4", "interface": 0, "address": "10.1.2.3/16"}], "dns": {}}
    res, e = call("ADD", full(cniVersion="0.4.0", prevResult=prev, snat=False))
    assert e is None and res["cniVersion"] == "0.4.0" and res["ips"][0]["version"] == "4"
    assert spy.localnet == []  # no snat: route_localnet untouched


def test_add_failure_removes_what_it_added(spy: Spy, fake: FakeNetfilter) -> None:  # noqa: F811
    fake.ipt.fail_when(lambda p, a: p == "ip6tables" and a[2] == "-N" and a[3] == DN, 3, "ip6tables: no.\n")
    res, e = call("ADD", full())
    assert res is None and e.startswith("unable to setup DNAT: running [/usr/sbin/ip6tables -t nat -N " + DN)
    assert DN not in fake.ipt.chains(False, "nat")  # the v4 chain made by this ADD is gone again


def test_conntrack_failure_is_only_logged(spy: Spy, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    def boom(*a: object) -> int:
        raise nf.NetfilterError("error deleting connection tracking state for protocol: 17 Port: 5353, error: x")

    monkeypatch.setattr(nf, "delete_conntrack_dst_port", boom)
    assert call("ADD", full(prevResult={"cniVersion": "1.0.0", "ips": [{"address": "10.1.1.2/24"}]}))[1] is None
    assert "failed to delete stale UDP conntrack entries for 10.1.1.2: error deleting" in capsys.readouterr().err


def test_localnet_failure_is_an_error(monkeypatch: pytest.MonkeyPatch, fake: FakeNetfilter) -> None:  # noqa: F811
    from pycni.linux import sysctl

    monkeypatch.setattr(nf, "delete_conntrack_dst_port", lambda *a: 0)
    monkeypatch.setattr(nf, "routable_host_ifname", lambda ip: "vethX")

    def bad_set(name: str, value: str) -> str:
        assert (name, value) == ("net/ipv4/conf/vethX/route_localnet", "1")
        raise sysctl.SysctlError("open", "/proc/sys/net/ipv4/conf/vethX/route_localnet", 2)

    monkeypatch.setattr(sysctl, "set", bad_set)
    res, e = call("ADD", full())
    assert e == ("unable to enable route_localnet: open /proc/sys/net/ipv4/conf/vethX/route_localnet: "
                 "no such file or directory")
    assert DN not in fake.ipt.chains(False, "nat")  # rolled back


def test_localnet_skipped_without_a_route(monkeypatch: pytest.MonkeyPatch, fake: FakeNetfilter) -> None:  # noqa: F811
    from pycni.linux import sysctl

    monkeypatch.setattr(nf, "delete_conntrack_dst_port", lambda *a: 0)
    monkeypatch.setattr(nf, "routable_host_ifname", lambda ip: "")
    monkeypatch.setattr(sysctl, "set", lambda *a: pytest.fail("no sysctl without an interface"))
    assert call("ADD", full())[1] is None


def test_nftables_backend_through_the_plugin(spy: Spy, fake: FakeNetfilter) -> None:  # noqa: F811
    res, e = call("ADD", full(backend="nftables"))
    assert e is None and len(fake.nft.scripts) == 2
    assert fake.nft.scripts[0].startswith("add table ip cni_hostport")
    assert fake.nft.scripts[1].startswith("add table ip6 cni_hostport")
    assert fake.ipt.calls == []
    assert call("DEL", full(backend="nftables")) == (None, None)


def test_version_support() -> None:
    assert portmap.PLUGIN.versions == ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
    assert portmap.PLUGIN.handler("GC") is None and portmap.PLUGIN.handler("STATUS") is None
