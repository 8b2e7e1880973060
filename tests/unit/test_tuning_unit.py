"""tuning: config decoding and precedence, duplicate sysctl keys, sysctl paths, allow-list, backup files,
and the errors that come before any namespace is entered (no root)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from pycni import skel
from pycni.netlink import codec as c
from pycni.plugins.meta import tuning
from pycni.plugins.meta.tuning import config as TC
from pycni.plugins.meta.tuning import device as D
from pycni.plugins.meta.tuning import plugin as T

PREV = {"cniVersion": "1.0.0",
        "interfaces": [{"name": "veth1", "mac": "aa:bb:cc:dd:ee:01"},
                       {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/run/netns/c"}],
        "ips": [{"interface": 1, "address": "10.1.0.2/24", "gateway": "10.1.0.1"}]}


def args_for(conf: dict | str, cni_args: str = "", ifname: str = "eth0", cmd: str = "ADD") -> skel.CmdArgs:
    data = conf if isinstance(conf, str) else json.dumps(conf)
    return skel.CmdArgs(cmd, "cid1", "/run/netns/none", ifname, cni_args, "", data.encode(), {}, json.loads(data))


def conf(**kw: object) -> dict:
    d: dict = {"cniVersion": "1.0.0", "name": "net", "type": "tuning"}
    d.update(kw)
    return d


def call(cmd: str, c_: dict | str, cni_args: str = "", netns: str = "/run/netns/none-pycni-test") -> skel.Outcome:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent", "CNI_ARGS": cni_args}
    data = c_ if isinstance(c_, str) else json.dumps(c_)
    return skel.run(tuning.PLUGIN, env, data.encode())


# --- decoding and precedence --------------------------------------------------------------------------


def test_defaults() -> None:
    t = TC.load_conf(args_for(conf()))
    assert t.data_dir == "/run/cni/tuning"
    assert (t.sysctl, t.mac, t.promisc, t.mtu, t.txqlen, t.allmulti) == ([], "", None, 0, None, None)
    assert not t.changes_link
    assert TC.load_conf(args_for(conf(dataDir="/x"))).data_dir == "/x"


def test_mac_precedence_cni_args_then_runtime_config_then_args_cni() -> None:
    base = conf(mac="0a:00:00:00:00:01")
    assert TC.load_conf(args_for(base)).mac == "0a:00:00:00:00:01"
    assert TC.load_conf(args_for(base, "MAC=0a:00:00:00:00:02")).mac == "0a:00:00:00:00:02"
    rt = dict(base, runtimeConfig={"mac": "0a:00:00:00:00:03"})
    assert TC.load_conf(args_for(rt, "MAC=0a:00:00:00:00:02")).mac == "0a:00:00:00:00:03"
    ac = dict(rt, args={"cni": {"mac": "0a:00:00:00:00:04"}})
    assert TC.load_conf(args_for(ac, "MAC=0a:00:00:00:00:02")).mac == "0a:00:00:00:00:04"
    # an explicit empty args.cni.mac clears the MAC (a set pointer), an empty CNI_ARGS MAC does not
    assert TC.load_conf(args_for(dict(base, args={"cni": {"mac": ""}}))).mac == ""
    assert TC.load_conf(args_for(base, "MAC=")).mac == "0a:00:00:00:00:01"


def test_cni_args_errors_are_the_libraries() -> None:
    with pytest.raises(ValueError, match=r'ARGS: unknown args \["mac=x"\]'):
        TC.load_conf(args_for(conf(), "mac=x"))
    assert TC.load_conf(args_for(conf(), "IgnoreUnknown=1;mac=x")).mac == ""


def test_args_cni_overrides_every_knob() -> None:
    c_ = conf(mtu=1400, promisc=False, allmulti=False, txQLen=10,
              args={"cni": {"mtu": 1300, "promisc": True, "allmulti": True, "txQLen": 20}})
    t = TC.load_conf(args_for(c_))
    assert (t.mtu, t.promisc, t.allmulti, t.txqlen) == (1300, True, True, 20)


def test_args_cni_sysctl_merges_and_works_without_a_top_level_map() -> None:
    t = TC.load_conf(args_for(conf(sysctl={"net.core.somaxconn": "500", "net.a": "1"},
                                  args={"cni": {"sysctl": {"net.core.somaxconn": "600"}}})))
    assert dict(t.sysctl) == {"net.core.somaxconn": "600", "net.a": "1"}
    # upstream panics ("assignment to entry in nil map"); pycni merges into an empty map
    t = TC.load_conf(args_for(conf(args={"cni": {"sysctl": {"net.core.somaxconn": "600"}}})))
    assert t.sysctl == [("net.core.somaxconn", "600")]


def test_explicit_promisc_false_is_kept_absent_is_none() -> None:
    assert TC.load_conf(args_for(conf(promisc=False))).promisc is False
    assert TC.load_conf(args_for(conf())).promisc is None
    assert TC.load_conf(args_for(conf(promisc=False))).changes_link


def test_keys_are_case_insensitive() -> None:
    t = TC.load_conf(args_for(conf(MTU=1400, TxQLen=5, Sysctl={"net.x": "1"})))
    assert (t.mtu, t.txqlen, t.sysctl) == (1400, 5, [("net.x", "1")])


@pytest.mark.parametrize("extra, msg", [
    ({"mtu": "x"}, "failed to load netconf: json: cannot unmarshal string into Go struct field TuningConf.mtu of type int"),
    ({"promisc": 1}, "failed to load netconf: json: cannot unmarshal number into Go struct field TuningConf.promisc "
                     "of type bool"),
    ({"runtimeConfig": {"mac": 5}}, "failed to load netconf: json: cannot unmarshal number into Go struct field "
                                    ".runtimeConfig.mac of type string"),
    ({"args": {"cni": {"mtu": "5"}}}, "failed to load netconf: json: cannot unmarshal string into Go struct field "
                                      "IPAMArgs.args.cni.mtu of type int"),
])
def test_decode_errors_match_the_reference(extra: dict, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        TC.load_conf(args_for(conf(**extra)))
    assert str(ei.value) == msg


# --- duplicate sysctl keys (HEAD) ---------------------------------------------------------------------


def test_duplicate_sysctl_keys_are_rejected() -> None:
    TC.check_duplicate_sysctl_keys(b'{"sysctl": {"net.a": "1", "net.b": "2"}}')
    with pytest.raises(ValueError, match="^duplicated sysctl keys are not allowed$"):
        TC.check_duplicate_sysctl_keys(b'{"sysctl": {"net.a": "1", "net.a": "2"}}')
    # Go decodes both spellings of the field into the same map
    with pytest.raises(ValueError, match="duplicated"):
        TC.check_duplicate_sysctl_keys(b'{"sysctl": {"net.a": "1"}, "SYSCTL": {"net.a": "1"}}')
    TC.check_duplicate_sysctl_keys(b'{"args": {"cni": {"sysctl": {"net.a": "1"}}}, "sysctl": {"net.a": "1"}}')


def test_sysctl_type_errors_come_from_the_duplicate_check() -> None:
    with pytest.raises(ValueError) as ei:
        TC.check_duplicate_sysctl_keys(b'{"sysctl": "x"}')
    assert str(ei.value) == ("json: cannot unmarshal string into Go struct field sysctlCheck.sysctl of type "
                             "map[main.sysctlKey]string")
    with pytest.raises(ValueError) as ei:
        TC.check_duplicate_sysctl_keys(b'{"sysctl": {"net.a": 1}}')
    assert str(ei.value) == "json: cannot unmarshal number into Go struct field sysctlCheck.sysctl of type string"
    # a duplicate aborts Go's decode before the saved type error is reported
    with pytest.raises(ValueError, match="duplicated"):
        TC.check_duplicate_sysctl_keys(b'{"sysctl": {"net.a": 1, "net.a": "2"}}')


# --- sysctl names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key, ifname, path", [
    ("net.core.somaxconn", "eth0", "/proc/sys/net/core/somaxconn"),
    ("net.ipv4.conf.IFNAME.arp_ignore", "eth0", "/proc/sys/net/ipv4/conf/eth0/arp_ignore"),
    # dots are replaced first, so a dotted interface name survives
    ("net.ipv4.conf.IFNAME.arp_ignore", "eth0.5", "/proc/sys/net/ipv4/conf/eth0.5/arp_ignore"),
    # only the first IFNAME is substituted
    ("net.IFNAME.IFNAME", "e", "/proc/sys/net/e/IFNAME"),
    ("net/ipv4/ip_forward", "eth0", "/proc/sys/net/ipv4/ip_forward"),
    # dots are slashes before the path is cleaned, so ".." can never climb out of net/
    ("net/../kernel/hostname", "eth0", "/proc/sys/net/kernel/hostname"),
])
def test_sysctl_filename(key: str, ifname: str, path: str) -> None:
    assert TC.sysctl_filename(key, ifname) == path


@pytest.mark.parametrize("key, shown", [
    ("kernel.hostname", "kernel/hostname"),
    ("net", "net"),
])
def test_non_net_sysctls_are_refused(key: str, shown: str) -> None:
    with pytest.raises(ValueError) as ei:
        TC.sysctl_filename(key, "eth0")
    assert str(ei.value) == f'invalid net sysctl key: "{shown}"'


# --- allow-list ----------------------------------------------------------------------------------------


def test_allowlist_absent_means_no_restriction(tmp_path: object) -> None:
    assert TC.read_allowlist(os.path.join(str(tmp_path), "missing.conf")) is None
    TC.validate_allowlist([("anything", "1")], None)


def test_allowlist_patterns_are_unanchored_regexps(tmp_path: object) -> None:
    p = os.path.join(str(tmp_path), "allowlist.conf")
    with open(p, "w") as f:
        f.write("^net.ipv4.conf.IFNAME.[a-z_]*$\n\n  net.core.somaxconn  \n")
    allow = TC.read_allowlist(p)
    assert allow == ["^net.ipv4.conf.IFNAME.[a-z_]*$", "net.core.somaxconn"]
    TC.validate_allowlist([("net.ipv4.conf.IFNAME.arp_ignore", "1"), ("x.net.core.somaxconn.y", "1")], allow)
    with pytest.raises(ValueError) as ei:
        TC.validate_allowlist([("net.ipv6.conf.all.forwarding", "1")], allow)
    assert str(ei.value) == ("Sysctl net.ipv6.conf.all.forwarding is not allowed. Only the following sysctls are "
                             "allowed: [^net.ipv4.conf.IFNAME.[a-z_]*$ net.core.somaxconn]")


# --- backup files --------------------------------------------------------------------------------------


def test_backup_content_holds_exactly_the_attributes_to_change() -> None:
    lk = c.Link(index=2, name="eth0", mtu=1500, address="aa:bb:cc:dd:ee:02", txqlen=1000,
                flags=c.IFF_UP | D.IFF_PROMISC)
    t = TC.load_conf(args_for(conf(mtu=1400, promisc=True)))
    assert D.backup_content(t, lk) == {"promisc": True, "mtu": 1500}
    t = TC.load_conf(args_for(conf(mac="0a:00:00:00:00:01", allmulti=False, txQLen=7)))
    assert D.backup_content(t, lk) == {"mac": "aa:bb:cc:dd:ee:02", "allmulti": False, "txQLen": 1000}


def test_backup_is_written_atomically_in_upstreams_format(tmp_path: object) -> None:
    d = os.path.join(str(tmp_path), "data", "tuning")
    path = TC.backup_path(d, "cid1", "eth0")
    assert path == os.path.join(d, "cid1_eth0.json")
    D.write_backup(path, {"mac": "aa:bb:cc:dd:ee:02", "promisc": False, "mtu": 1500}, "eth0")
    with open(path) as f:
        text = f.read()
    # Go's json.MarshalIndent(v, "", " ")
    assert text == '{\n "mac": "aa:bb:cc:dd:ee:02",\n "promisc": false,\n "mtu": 1500\n}'
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(d) == ["cid1_eth0.json"]  # no temporary file left
    assert D.read_backup(path) == {"mac": "aa:bb:cc:dd:ee:02", "promisc": False, "mtu": 1500}
    D.write_backup(path, {}, "eth0")
    with open(path) as f:
        assert f.read() == "{}"


def test_read_backup_absent_and_corrupt(tmp_path: object) -> None:
    p = os.path.join(str(tmp_path), "x.json")
    assert D.read_backup(p) is None
    with open(p, "w") as f:
        f.write("{not json")
    with pytest.raises(ValueError):
        D.read_backup(p)


def test_backup_fields_are_decoded_like_go() -> None:
    doc = {"MTU": 1500, "mac": 5, "Promisc": False, "txQLen": 0}
    assert D._backup_field(doc, "mtu") == 1500
    assert D._backup_field(doc, "mac") is None  # wrong type: not restored
    assert D._backup_field(doc, "promisc") is False
    assert D._backup_field(doc, "txQLen") == 0
    assert D._backup_field(doc, "allmulti") is None


# --- the plugin through skel (errors before the namespace) ------------------------------------------


def test_add_requires_prev_result() -> None:
    out = call("ADD", conf())
    assert (out.error.code, out.error.msg) == (999, "Required prevResult missing")


def test_add_reports_a_missing_netns_plainly() -> None:
    # With something to change (the netns is entered) and with nothing (it is only checked): the same answer.
    for c_ in (conf(mtu=1400, prevResult=PREV), conf(prevResult=PREV)):
        out = call("ADD", c_)
        assert (out.error.code, out.error.msg) == (
            999, 'failed to Statfs "/run/netns/none-pycni-test": no such file or directory')
    out = call("ADD", conf(prevResult=PREV), netns=__file__)
    assert out.error.msg.startswith(f'unknown FS magic on "{__file__}": ')


def test_add_that_changes_nothing_passes_the_result_on() -> None:
    out = call("ADD", conf(prevResult=PREV), netns="/proc/self/ns/net")
    assert out.error is None and out.result["ips"] == PREV["ips"]


def test_bad_prev_result() -> None:
    out = call("ADD", conf(prevResult={"cniVersion": "1.0.0", "ips": [{"address": "bad"}]}))
    assert out.error.msg == "could not parse prevResult: invalid CIDR address: bad"


def test_del_with_missing_netns_removes_the_backup(tmp_path: object) -> None:
    d = str(tmp_path)
    path = TC.backup_path(d, "cid1", "eth0")
    D.write_backup(path, {"mtu": 1500}, "eth0")
    out = call("DEL", conf(dataDir=d))
    assert out.error is None and not os.path.exists(path)
    D.write_backup(path, {"mtu": 1500}, "eth0")
    assert call("DEL", conf(dataDir=d), netns="").error is None and not os.path.exists(path)


def test_del_still_fails_on_a_bad_config() -> None:
    out = call("DEL", conf(mtu="x"))
    assert out.error.msg.startswith("failed to load netconf: ")


def test_check_needs_prev_result_and_rejects_duplicates() -> None:
    assert call("CHECK", conf()).error.msg == "Required prevResult missing"
    dup = '{"cniVersion":"1.0.0","name":"n","type":"tuning","sysctl":{"net.a":"1","net.a":"1"}}'
    assert call("CHECK", dup).error.msg == "duplicated sysctl keys are not allowed"


def test_mac_is_written_into_the_result_for_the_interface() -> None:
    out = D._with_mac(dict(PREV), "eth0", "0A:58:0A:58:07:99")
    assert out["interfaces"][1]["mac"] == "0A:58:0A:58:07:99"  # as configured, not normalised (upstream)
    assert out["interfaces"][0]["mac"] == "aa:bb:cc:dd:ee:01"
