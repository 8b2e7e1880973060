"""host-local commands in-process (upstream host_local_test.go × every spec version, plus §3.4-3.7)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from pycni import skel
from pycni.plugins.ipam import host_local as HL
from pycni.plugins.ipam.host_local import plugin as P
from pycni.spec import result as R

VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
LEGACY = ("0.1.0", "0.2.0")
VERFIELD = ("0.3.0", "0.3.1", "0.4.0")


def run(cmd: str, conf: dict | str, cid: str = "dummy", ifname: str = "eth0", args: str = ""):
    text = conf if isinstance(conf, str) else json.dumps(conf)
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/some/where", "CNI_IFNAME": ifname,
           "CNI_PATH": "/opt/cni/bin", "CNI_ARGS": args}
    return skel.run(HL.PLUGIN, env, text.encode())


def ok(outcome):
    assert outcome.error is None, outcome.error and outcome.error.to_json()
    return outcome


def ips_of(outcome) -> list[dict]:
    return R.convert(outcome.result, "1.1.0").get("ips", [])


def addrs(outcome) -> list[str]:
    return [i["address"] for i in ips_of(outcome)]


def direct(handler, conf: dict, cid: str, ifname: str = "eth0", args: str = ""):
    """Call a command handler as upstream's tests do (no skel validation of the container ID)."""
    data = json.dumps(conf).encode()
    a = skel.CmdArgs("ADD", cid, "/some/where", ifname, args, "", data, {}, json.loads(data))
    return handler(a)


def net(ver: str, data_dir, ipam: dict, name: str = "mynet", **top) -> dict:
    conf = {"cniVersion": ver, "name": name, "type": "ipvlan", "master": "foo0",
            "ipam": {"type": "host-local", "dataDir": str(data_dir), **ipam}}
    conf.update(top)
    return conf


def read(p) -> str:
    with open(p, "rb") as f:
        return f.read().decode()


@pytest.fixture
def resolv(tmp_path):
    p = tmp_path / "resolv.conf"
    p.write_text("nameserver 192.0.2.3")
    return str(p)


@pytest.mark.parametrize("ver", VERSIONS)
def test_add_and_del_two_range_sets(ver, tmp_path, resolv):  # H1
    conf = net(ver, tmp_path, {
        "resolvConf": resolv,
        "ranges": [[{"subnet": "10.1.2.0/24"}, {"subnet": "10.2.2.0/24"}], [{"subnet": "2001:db8:1::0/64"}]],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}, {"dst": "192.168.0.0/16", "gw": "1.1.1.1"},
                   {"dst": "2001:db8:2::0/64", "gw": "2001:db8:3::1"}],
    })
    out = ok(run("ADD", conf))
    if ver in VERFIELD:
        assert '"version":' in out.stdout()
    assert ips_of(out) == [{"address": "10.1.2.2/24", "gateway": "10.1.2.1"},
                           {"address": "2001:db8:1::2/64", "gateway": "2001:db8:1::1"}]
    routes = R.convert(out.result, "1.1.0").get("routes", [])
    want = [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}, {"dst": "192.168.0.0/16", "gw": "1.1.1.1"},
            {"dst": "2001:db8:2::/64", "gw": "2001:db8:3::1"}]
    if ver in LEGACY:  # ip4/ip6 routes: kept only for a family that has an IP; both do here
        assert sorted(map(str, routes)) == sorted(map(str, want))
    else:
        assert routes == want
    assert R.convert(out.result, "1.1.0")["dns"] == {"nameservers": ["192.0.2.3"]}
    d = tmp_path / "mynet"
    assert read(d / "10.1.2.2") == "dummy\r\neth0"
    assert read(d / "2001:db8:1::2") == "dummy\r\neth0"
    assert read(d / "last_reserved_ip.0") == "10.1.2.2"
    assert read(d / "last_reserved_ip.1") == "2001:db8:1::2"
    ok(run("DEL", conf))
    assert not (d / "10.1.2.2").exists() and not (d / "2001:db8:1::2").exists()


@pytest.mark.parametrize("ver", VERSIONS)
def test_add_and_del_per_interface_on_two_networks(ver, tmp_path, resolv):  # H2
    c0 = net(ver, tmp_path, {"resolvConf": resolv, "ranges": [[{"subnet": "10.1.2.0/24"}]]}, name="mynet0")
    c1 = net(ver, tmp_path, {"resolvConf": resolv, "ranges": [[{"subnet": "10.2.2.0/24"}]]}, name="mynet1")
    o0 = ok(run("ADD", c0, ifname="eth0"))
    o1 = ok(run("ADD", c1, ifname="eth1"))
    if ver in VERFIELD:
        assert '"version":' in o0.stdout() and '"version":' in o1.stdout()
    f0, f1 = tmp_path / "mynet0" / "10.1.2.2", tmp_path / "mynet1" / "10.2.2.2"
    assert read(f0) == "dummy\r\neth0" and read(f1) == "dummy\r\neth1"
    ok(run("DEL", c0, ifname="eth0"))
    assert not f0.exists() and read(f1) == "dummy\r\neth1"
    ok(run("DEL", c1, ifname="eth1"))
    assert not f1.exists()


@pytest.mark.parametrize("ver", VERSIONS)
def test_repeat_add_for_same_container_and_ifname_fails(ver, tmp_path):  # H3
    conf = net(ver, tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}]]}, name="mynet0")
    assert addrs(ok(run("ADD", conf, cid="dummy"))) == ["10.1.2.2/24"]
    e = run("ADD", conf, cid="dummy").error
    assert e.code == 999
    assert e.msg == "failed to allocate for range 0: 10.1.2.2 has been allocated to dummy, duplicate allocation is not allowed"
    assert addrs(ok(run("ADD", conf, cid="dummy1"))) == ["10.1.2.3/24"]
    assert run("ADD", conf, cid="dummy").error is not None
    ok(run("DEL", conf, cid="dummy"))
    assert not (tmp_path / "mynet0" / "10.1.2.2").exists()
    ok(run("DEL", conf, cid="dummy1"))
    assert not (tmp_path / "mynet0" / "10.1.2.3").exists()


@pytest.mark.parametrize("ver", VERSIONS)
def test_del_releases_legacy_id_only_files(ver, tmp_path, resolv):  # H4
    conf = net(ver, tmp_path, {"resolvConf": resolv, "ranges": [[{"subnet": "10.1.2.0/24"}]]})
    ok(run("ADD", conf))
    p = tmp_path / "mynet" / "10.1.2.2"
    assert read(p) == "dummy\r\neth0"
    with open(p, "w") as f:  # rewritten in place: the directory's mtime does not move
        f.write("dummy")
    ok(run("DEL", conf))
    assert not p.exists()


@pytest.mark.parametrize("ver", VERSIONS)
def test_del_of_unknown_id_succeeds(ver, tmp_path):  # H5
    ok(run("DEL", net(ver, tmp_path, {"subnet": "10.1.2.0/24"})))


@pytest.mark.parametrize("ver", VERSIONS)
def test_whitespace_in_container_id_is_trimmed_on_disk(ver, tmp_path):  # H6
    conf = net(ver, tmp_path, {"subnet": "10.1.2.0/24"})
    res = direct(P.cmd_add, conf, "   dummy\n ")
    assert res["ips"][0]["address"] == "10.1.2.2/24"
    p = tmp_path / "mynet" / "10.1.2.2"
    assert read(p) == "dummy\r\neth0"
    direct(P.cmd_del, conf, "   dummy\n ")
    assert not p.exists()


@pytest.mark.parametrize("ver", VERSIONS)
def test_no_error_message_on_first_use(ver, tmp_path, capfd):  # H7
    out = ok(run("ADD", net(ver, tmp_path, {"subnet": "10.1.2.0/24"}), cid="testing"))
    cap = capfd.readouterr()
    assert "Error retrieving last reserved ip" not in out.stdout() + cap.out + cap.err


@pytest.mark.parametrize("ver", VERSIONS)
def test_requested_ip_from_args(ver, tmp_path):  # H8
    conf = net(ver, tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}]]}, args={"cni": {"ips": ["10.1.2.88"]}})
    assert addrs(ok(run("ADD", conf))) == ["10.1.2.88/24"]


@pytest.mark.parametrize("ver", VERSIONS)
def test_requested_ips_from_two_range_sets(ver, tmp_path):  # H9
    conf = net(ver, tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "10.1.3.0/24"}]]},
               args={"cni": {"ips": ["10.1.2.88", "10.1.3.77"]}})
    out = run("ADD", conf)
    if ver in LEGACY:
        assert out.error.msg == f"CNI version {ver} does not support more than 1 address per family"
    else:
        assert addrs(ok(out)) == ["10.1.2.88/24", "10.1.3.77/24"]


@pytest.mark.parametrize("ver", VERSIONS)
def test_requested_ip_in_second_range_of_a_set(ver, tmp_path):  # H10
    conf = net(ver, tmp_path, {"ranges": [[{"subnet": "172.16.1.0/24"}, {"subnet": "10.1.2.0/24"}],
                                          [{"subnet": "2001:db8:1::/48"}]]},
               args={"cni": {"ips": ["10.1.2.88", "2001:db8:1::999"]}})
    assert addrs(ok(run("ADD", conf))) == ["10.1.2.88/24", "2001:db8:1::999/48"]


@pytest.mark.parametrize("ver", VERSIONS)
def test_two_requested_ips_in_one_set_fail(ver, tmp_path):  # H11
    conf = net(ver, tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "10.1.3.0/24"}]]},
               args={"cni": {"ips": ["10.1.2.88", "10.1.2.77"]}})
    out = run("ADD", conf)
    if ver in LEGACY:
        assert out.error.msg == f"CNI version {ver} does not support more than 1 address per family"
    else:
        assert out.error.msg.startswith("failed to allocate all requested IPs: 10.1.2.")
        assert sorted(os.listdir(tmp_path / "mynet")) == ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]


# --- §3.4-3.7 details ------------------------------------------------------------------------


def conf1(tmp_path, **ipam) -> dict:
    return net("1.0.0", tmp_path, ipam or {"subnet": "10.0.0.0/24"})


def test_file_modes(tmp_path):
    ok(run("ADD", conf1(tmp_path)))
    d = tmp_path / "mynet"
    assert stat.S_IMODE(os.stat(d / "10.0.0.2").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "last_reserved_ip.0").st_mode) == 0o600
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(d / "lock").st_mode) == 0o750 & ~umask
    assert os.path.getsize(d / "lock") == 0


def test_same_container_other_ifname_gets_a_second_address(tmp_path):
    c = conf1(tmp_path)
    assert addrs(ok(run("ADD", c, cid="c1", ifname="eth0"))) == ["10.0.0.2/24"]
    assert addrs(ok(run("ADD", c, cid="c1", ifname="eth1"))) == ["10.0.0.3/24"]


def test_legacy_file_blocks_every_ifname(tmp_path):
    c = conf1(tmp_path)
    ok(run("ADD", c, cid="c0"))
    (tmp_path / "mynet" / "10.0.0.77").write_text("c1")
    e = run("ADD", c, cid="c1", ifname="eth7").error
    assert e.msg == "failed to allocate for range 0: 10.0.0.77 has been allocated to c1, duplicate allocation is not allowed"


def test_round_robin_continues_after_del(tmp_path):
    c = conf1(tmp_path)
    ok(run("ADD", c, cid="c1"))
    ok(run("ADD", c, cid="c2"))
    ok(run("DEL", c, cid="c1"))
    assert addrs(ok(run("ADD", c, cid="c3"))) == ["10.0.0.4/24"]
    assert read(tmp_path / "mynet" / "last_reserved_ip.0") == "10.0.0.4"


def test_garbage_last_reserved_restarts_from_range_start(tmp_path):
    c = conf1(tmp_path)
    d = tmp_path / "mynet"
    d.mkdir()
    (d / "last_reserved_ip.0").write_text("10.0.0.50\n")  # no TrimSpace upstream: does not parse
    assert addrs(ok(run("ADD", c, cid="c1"))) == ["10.0.0.2/24"]


def test_last_reserved_as_directory_is_logged_and_ignored(tmp_path, capfd):
    d = tmp_path / "mynet"
    (d / "last_reserved_ip.0").mkdir(parents=True)
    out = run("ADD", conf1(tmp_path), cid="c1")
    cap = capfd.readouterr()
    assert f"Error retrieving last reserved ip: read {d}/last_reserved_ip.0: is a directory" in cap.err
    # the address was reserved, then writing last_reserved_ip failed: error, and (unlike upstream,
    # which leaves the IP file behind until a DEL) the reservation is taken back
    assert out.error.msg == f"failed to allocate for range 0: open {d}/last_reserved_ip.0: is a directory"
    assert not (d / "10.0.0.2").exists()


def test_requested_ip_errors(tmp_path):
    c = conf1(tmp_path)
    ok(run("ADD", c, cid="c0", args="IP=10.0.0.77"))
    assert run("ADD", c, cid="c1", args="IP=10.0.0.1").error.msg == \
        "failed to allocate for range 0: requested ip 10.0.0.1 is subnet's gateway"
    assert run("ADD", c, cid="c1", args="IP=10.0.0.77").error.msg == \
        "failed to allocate for range 0: requested IP address 10.0.0.77 is not available in range set 10.0.0.1-10.0.0.254"
    assert run("ADD", c, cid="c1", args="IP=10.0.1.5").error.msg == "failed to allocate all requested IPs: 10.0.1.5"
    assert run("ADD", c, cid="c1", args="IP=10.0.0.255").error.msg == "failed to allocate all requested IPs: 10.0.0.255"


def test_requested_ip_has_no_duplicate_check(tmp_path):
    c = conf1(tmp_path)
    ok(run("ADD", c, cid="c1", args="IP=10.0.0.10"))
    assert addrs(ok(run("ADD", c, cid="c1", args="IP=10.0.0.11"))) == ["10.0.0.11/24"]


def test_exhaustion_message(tmp_path):
    c = net("1.0.0", tmp_path, {"subnet": "10.9.0.0/30"})
    ok(run("ADD", c, cid="c1"))
    e = run("ADD", c, cid="c2").error
    assert e.msg == "failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.2"


def test_rollback_releases_by_id_and_keeps_last_reserved(tmp_path):
    c = net("1.0.0", tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "10.1.3.0/30"}]]})
    ok(run("ADD", c, cid="filler", ifname="eth9"))  # takes 10.1.3.2, the only address of set 1
    e = run("ADD", c, cid="c1").error
    assert e.msg == "failed to allocate for range 1: no IP addresses available in range set: 10.1.3.1-10.1.3.2"
    d = tmp_path / "mynet"
    assert not (d / "10.1.2.3").exists()
    assert read(d / "last_reserved_ip.0") == "10.1.2.3"  # not restored, as upstream


def test_rollback_also_drops_earlier_allocations_of_the_same_key(tmp_path):
    c = net("1.0.0", tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}]]})
    ok(run("ADD", c, cid="c1", args="IP=10.1.2.50"))
    # a second ADD for the same key fails on a leftover requested IP: rollback deletes by (id, ifname)
    c2 = net("1.0.0", tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}]]}, args={"cni": {"ips": ["10.1.2.61", "10.9.9.9"]}})
    e = run("ADD", c2, cid="c1").error
    assert e.msg == "failed to allocate all requested IPs: 10.9.9.9"
    assert not (tmp_path / "mynet" / "10.1.2.50").exists()


def test_del_with_two_sets_sweeps_legacy_files_too(tmp_path):
    c = net("1.0.0", tmp_path, {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "10.1.3.0/24"}]]})
    ok(run("ADD", c, cid="c1"))
    d = tmp_path / "mynet"
    (d / "10.1.2.99").write_text("c1")
    ok(run("DEL", c, cid="c1"))
    assert sorted(os.listdir(d)) == ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]


def test_del_with_one_set_keeps_legacy_file_when_new_key_matched(tmp_path):
    c = conf1(tmp_path)
    ok(run("ADD", c, cid="c1"))
    d = tmp_path / "mynet"
    (d / "10.0.0.99").write_text("c1")
    ok(run("DEL", c, cid="c1"))
    assert (d / "10.0.0.99").exists() and not (d / "10.0.0.2").exists()
    ok(run("DEL", c, cid="c1"))  # now nothing new-format is left: the legacy file goes
    assert not (d / "10.0.0.99").exists()


def test_del_config_errors_fail(tmp_path):
    e = run("DEL", net("1.0.0", tmp_path, {"type": "host-local"})).error
    assert (e.code, e.msg) == (999, "no IP ranges specified")


def test_matching_ignores_surrounding_whitespace_in_files(tmp_path):
    c = conf1(tmp_path)
    d = tmp_path / "mynet"
    d.mkdir()
    (d / "10.0.0.40").write_text("  w1\r\neth0\n\n")
    ok(run("CHECK", c, cid="w1"))
    ok(run("DEL", c, cid="w1"))
    assert not (d / "10.0.0.40").exists()


def test_files_in_subdirectories_are_matched(tmp_path):
    c = conf1(tmp_path)
    sub = tmp_path / "mynet" / "old"
    sub.mkdir(parents=True)
    (sub / "10.0.0.9").write_text("c1\r\neth0")
    e = run("ADD", c, cid="c1").error
    assert e.msg.endswith("10.0.0.9 has been allocated to c1, duplicate allocation is not allowed")
    ok(run("DEL", c, cid="c1"))
    assert not (sub / "10.0.0.9").exists()


@pytest.mark.parametrize("ver", ["0.4.0", "1.0.0", "1.1.0"])
def test_check(ver, tmp_path):
    c = net(ver, tmp_path, {"subnet": "10.0.0.0/24"})
    ok(run("ADD", c, cid="c1"))
    ok(run("CHECK", c, cid="c1"))
    e = run("CHECK", c, cid="c9").error
    assert (e.code, e.msg) == (999, "host-local: Failed to find address added by container c9")
    assert run("CHECK", c, cid="c1", ifname="eth5").error.msg == \
        "host-local: Failed to find address added by container c1"


def test_check_accepts_legacy_file(tmp_path):
    c = conf1(tmp_path)
    (tmp_path / "mynet").mkdir()
    (tmp_path / "mynet" / "10.0.0.5").write_text("c1")
    ok(run("CHECK", c, cid="c1", ifname="eth5"))


def test_resolv_conf_open_error(tmp_path):
    e = run("ADD", conf1(tmp_path, subnet="10.0.0.0/24", resolvConf="/nonexistent/resolv.conf")).error
    assert (e.code, e.msg) == (999, "open /nonexistent/resolv.conf: no such file or directory")


def test_data_dir_not_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    c = net("1.0.0", f, {"subnet": "10.0.0.0/24"})
    e = run("ADD", c).error
    assert (e.code, e.msg) == (999, f"mkdir {f}: not a directory")


def test_gateway_outside_subnet_makes_dot_one_allocatable(tmp_path):
    c = conf1(tmp_path, subnet="10.0.0.0/24", gateway="10.9.9.9")
    out = ok(run("ADD", c, cid="c1"))
    assert ips_of(out) == [{"address": "10.0.0.1/24", "gateway": "10.9.9.9"}]


def test_network_address_as_range_start_is_handed_out(tmp_path):
    c = conf1(tmp_path, subnet="10.9.1.0/24", rangeStart="10.9.1.0")
    assert addrs(ok(run("ADD", c, cid="c1"))) == ["10.9.1.0/24"]


def test_wide_ipv6_subnet(tmp_path):
    c = conf1(tmp_path, subnet="2001:db8::/32")
    assert addrs(ok(run("ADD", c, cid="c1"))) == ["2001:db8::2/32"]
    (tmp_path / "mynet" / "last_reserved_ip.0").write_text("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
    assert addrs(ok(run("ADD", c, cid="c2"))) == ["2001:db8::3/32"]  # wraps past the end, skips ::1 and ::2


@pytest.mark.parametrize("ver,want", [("0.4.0", None), ("1.0.0", None)])
def test_gc_and_status_need_1_1_0(ver, want, tmp_path):
    c = conf1(tmp_path)
    c["cniVersion"] = ver
    assert run("GC", c).error.msg == "config version does not allow GC"
    assert run("STATUS", c).error.msg == "config version does not allow STATUS"


def gc_conf(tmp_path, valid, key="cni.dev/valid-attachments"):
    c = net("1.1.0", tmp_path, {"subnet": "10.0.0.0/24"})
    if valid is not None:
        c[key] = [{"containerID": a, "ifname": b} for a, b in valid]
    return c


def test_gc_releases_everything_not_valid(tmp_path):
    c = gc_conf(tmp_path, None)
    for cid in ("c1", "c2", "c3"):
        ok(run("ADD", c, cid=cid))
    d = tmp_path / "mynet"
    (d / "10.0.0.99").write_text("legacy-keep")
    (d / "10.0.0.98").write_text("legacy-drop")
    (d / "notes.txt").write_text("c9\r\neth0")
    ok(run("GC", gc_conf(tmp_path, [("c2", "eth0"), ("legacy-keep", "eth3")])))
    assert sorted(os.listdir(d)) == ["10.0.0.3", "10.0.0.99", "last_reserved_ip.0", "lock", "notes.txt"]
    ok(run("ADD", gc_conf(tmp_path, None), cid="c1"))  # the index agrees: c1 may allocate again


def test_gc_accepts_cni_dev_attachments(tmp_path):
    ok(run("ADD", gc_conf(tmp_path, None), cid="c1"))
    ok(run("ADD", gc_conf(tmp_path, None), cid="c2"))
    ok(run("GC", gc_conf(tmp_path, [("c1", "eth0")], key="cni.dev/attachments")))
    assert sorted(os.listdir(tmp_path / "mynet")) == ["10.0.0.2", "last_reserved_ip.0", "lock"]


def test_gc_without_attachments_does_nothing(tmp_path):
    ok(run("ADD", gc_conf(tmp_path, None), cid="c1"))
    ok(run("GC", gc_conf(tmp_path, None)))
    assert (tmp_path / "mynet" / "10.0.0.2").exists()


def test_gc_with_empty_list_releases_all(tmp_path):
    ok(run("ADD", gc_conf(tmp_path, None), cid="c1"))
    ok(run("GC", gc_conf(tmp_path, [])))
    assert not (tmp_path / "mynet" / "10.0.0.2").exists()


def test_status(tmp_path):
    c = net("1.1.0", tmp_path, {"subnet": "10.9.0.0/30"})
    ok(run("STATUS", c))
    ok(run("ADD", c, cid="c1"))
    e = run("STATUS", c).error
    assert e.code == 50
    assert e.msg == "host-local: no free addresses in range set 0 (10.9.0.1-10.9.0.2): 1 of 1 allocated"
    ok(run("DEL", c, cid="c1"))
    ok(run("STATUS", c))


def test_status_counts_only_the_set(tmp_path):
    c = net("1.1.0", tmp_path, {"ranges": [[{"subnet": "10.9.0.0/30"}], [{"subnet": "10.8.0.0/24"}]]})
    d = tmp_path / "mynet"
    d.mkdir()
    for i in range(5, 20):
        (d / f"10.8.0.{i}").write_text(f"x{i}\r\neth0")
    ok(run("STATUS", c))


def test_status_unusable_data_dir(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    e = run("STATUS", net("1.1.0", f, {"subnet": "10.0.0.0/24"})).error
    assert e.code == 50
    assert e.msg == f"host-local: data directory unusable: mkdir {f}: not a directory"


def test_in_process_repeat_is_stable(tmp_path):
    """Many commands in one interpreter (in-process delegation): no state leaks between calls."""
    c = conf1(tmp_path, subnet="10.0.0.0/24")
    for i in range(40):
        ok(run("ADD", c, cid=f"c{i}"))
    for i in range(0, 40, 2):
        ok(run("DEL", c, cid=f"c{i}"))
    names = sorted(n for n in os.listdir(tmp_path / "mynet") if n.startswith("10."))
    assert len(names) == 20


def test_gc_that_cannot_release_fails_after_releasing_the_rest(tmp_path, monkeypatch):
    import errno
    import posix

    c = gc_conf(tmp_path, None)
    for cid in ("c1", "c2", "c3"):
        ok(run("ADD", c, cid=cid))
    d = tmp_path / "mynet"
    real = os.unlink

    def ro(path, *a, **k):
        if str(path).endswith("/10.0.0.2"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, *a, **k)

    monkeypatch.setattr(posix, "unlink", ro)
    e = run("GC", gc_conf(tmp_path, [("c2", "eth0")])).error
    assert e.msg == f"failed to release: remove {d}/10.0.0.2: read-only file system"
    assert sorted(n for n in os.listdir(d) if n[0] == "1") == ["10.0.0.2", "10.0.0.3"]
    monkeypatch.setattr(posix, "unlink", real)
    ok(run("GC", gc_conf(tmp_path, [("c2", "eth0")])))
    assert sorted(n for n in os.listdir(d) if n[0] == "1") == ["10.0.0.3"]
