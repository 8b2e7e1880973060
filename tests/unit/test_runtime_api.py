"""Running chains as libcni does, against tiny fake plugins (R-ADD, R-DEL, R-CHK, R-GC, R-STS, R-ENV,
R-CONF, R-VAL, R-VER; E20-E23, E28, E31, E32, E34). No root needed."""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from runtime_fakes import FakePlugins  # noqa: E402

from pycni.runtime import CNIRuntime, RuntimeConf, network_conf_from_bytes  # noqa: E402
from pycni.runtime import cache  # noqa: E402
from pycni.runtime.errors import CNIRuntimeError  # noqa: E402


@pytest.fixture
def fakes(tmp_path):
    return FakePlugins(tmp_path / "bin").add("a", "b", "c")


def netlist(*plugins, version="1.0.0", name="net", **extra):
    doc = {"cniVersion": version, "name": name,
           "plugins": [p if isinstance(p, dict) else {"type": p} for p in plugins], **extra}
    return network_conf_from_bytes(json.dumps(doc).encode())


def runtime(fakes, tmp_path, **kw):
    return CNIRuntime([fakes.dir, "/nonexistent"], str(tmp_path / "cache"), env=fakes.env(FAKE_MARK="m"), **kw)


def rt(cid="ctr1", ifname="eth0", **kw):
    return RuntimeConf(cid, "/var/run/netns/x", ifname, **kw)


def cmds(fakes):
    return [(c["plugin"], c["cmd"]) for c in fakes.calls()]


# --- ADD --------------------------------------------------------------------------------------------


def test_add_runs_in_order_passing_each_result_on_as_prevresult(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist({"type": "a", "name": "own", "cniVersion": "0.1.0"}, "b", "c")
    result = cni.add_network_list(net, rt(args=[("K8S_POD_NAME", "p"), ("IgnoreUnknown", "1")]))
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("a", "ADD"), ("b", "ADD"), ("c", "ADD")]
    assert "prevResult" not in calls[0]["conf"]
    assert [i["name"] for i in calls[1]["conf"]["prevResult"]["interfaces"]] == ["a"]
    assert [i["name"] for i in calls[2]["conf"]["prevResult"]["interfaces"]] == ["a", "b"]
    assert [i["name"] for i in result["interfaces"]] == ["a", "b", "c"]
    # name and cniVersion injected over the plugin's own; stdin is Go-marshalled (sorted keys)
    assert calls[0]["stdin"] == '{"cniVersion":"1.0.0","name":"net","type":"a"}'
    env = calls[0]["env"]
    assert env == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "ctr1", "CNI_NETNS": "/var/run/netns/x",
                   "CNI_IFNAME": "eth0", "CNI_ARGS": "K8S_POD_NAME=p;IgnoreUnknown=1",
                   "CNI_PATH": f"{fakes.dir}:/nonexistent", "FAKE_MARK": "m"}
    cached = json.loads(open(cache.file_path(cni.cache_dir, "net", "ctr1", "eth0")).read())
    assert cached["result"]["interfaces"][-1]["name"] == "c"
    assert cached["cniArgs"] == [["K8S_POD_NAME", "p"], ["IgnoreUnknown", "1"]]
    assert cached["config"]  # the list's bytes


def test_inherited_cni_variables_are_overridden_and_empty_ones_still_set(fakes, tmp_path):
    cni = CNIRuntime([fakes.dir], str(tmp_path / "c"), env=fakes.env(CNI_IFNAME="bogus", CNI_ARGS="X=1"))
    cni.add_network_list(netlist("a"), rt())
    env = fakes.calls()[0]["env"]
    assert env["CNI_IFNAME"] == "eth0" and env["CNI_ARGS"] == ""


def test_capabilities_become_runtimeconfig_only_for_the_intersection(fakes, tmp_path):  # E28
    cni = runtime(fakes, tmp_path)
    pm = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
    plugin = {"type": "a", "capabilities": {"portMappings": True, "mac": False}}
    cni.add_network_list(netlist(plugin), rt(capability_args={"portMappings": pm, "mac": "c2:11:22:33:44:55",
                                                               "bandwidth": {}}))
    conf = fakes.calls()[0]["conf"]
    assert conf["runtimeConfig"] == {"portMappings": pm}
    assert conf["capabilities"] == {"portMappings": True, "mac": False}
    fakes.clear()
    cni.add_network_list(netlist(plugin), rt(cid="ctr2"))
    conf = fakes.calls()[0]["conf"]
    assert "runtimeConfig" not in conf and conf["capabilities"] == {"portMappings": True, "mac": False}


def test_a_runtimeconfig_in_the_file_passes_through_when_nothing_is_injected(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    cni.add_network_list(netlist({"type": "a", "runtimeConfig": {"x": 1}}), rt())
    assert fakes.calls()[0]["conf"]["runtimeConfig"] == {"x": 1}


def test_results_are_not_converted_between_plugins(fakes, tmp_path):  # E34
    cni = runtime(fakes, tmp_path)
    fakes.control("b", "ADD", stdout=json.dumps({"cniVersion": "0.4.0", "ips": [
        {"version": "4", "address": "10.0.0.9/24"}]}))
    result = cni.add_network_list(netlist("a", "b", "c"), rt())
    assert fakes.calls()[2]["conf"]["prevResult"]["cniVersion"] == "0.4.0"
    assert result["cniVersion"] == "0.4.0"  # the last plugin's version, cached as such
    cached = json.loads(open(cache.file_path(cni.cache_dir, "net", "ctr1", "eth0")).read())
    assert cached["result"]["cniVersion"] == "0.4.0"


def test_add_failure_stops_the_chain_keeps_the_code_and_writes_no_cache(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    fakes.control("b", "ADD", exit=1, stdout='{"code":7,"msg":"bad config","details":"more"}')
    with pytest.raises(CNIRuntimeError) as ei:
        cni.add_network_list(netlist("a", {"type": "b", "name": "bee"}, "c"), rt())
    assert str(ei.value) == 'plugin type="b" name="bee" failed (add): bad config; more'
    assert ei.value.code == 7
    assert cmds(fakes) == [("a", "ADD"), ("b", "ADD")]  # no c, and no DEL by libcni itself
    assert not os.path.exists(cache.file_path(cni.cache_dir, "net", "ctr1", "eth0"))


@pytest.mark.parametrize("stdout, stderr, message", [
    ("not json", "", 'netplugin failed but error parsing its diagnostic message "not json"'),
    ("", "oops\n", 'netplugin failed: "oops\\n"'),  # Go's %q escapes the newline
    ("", "", "netplugin failed with no error message"),
])
def test_plugin_failure_without_an_error_object(fakes, tmp_path, stdout, stderr, message):
    cni = runtime(fakes, tmp_path)
    fakes.control("a", "ADD", exit=3, stdout=stdout, stderr=stderr)
    with pytest.raises(CNIRuntimeError) as ei:
        cni.add_network_list(netlist("a"), rt())
    assert message in str(ei.value) and str(ei.value).startswith('plugin type="a" failed (add): ')


@pytest.mark.parametrize("stdout, ok, text", [
    ('log line\n{"cniVersion":"1.0.0"}', False, "failed to unmarshal raw result: invalid character 'l'"),  # E21
    ('{"ips":[{"address":"10.0.0.2/24"}]}', True, "1.0.0"),                                             # E22
    ('{"cniVersion":"","ips":[{"address":"10.0.0.2/24"}]}', True, "1.0.0"),
    ('{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2"}]}', False, "invalid CIDR address: 10.0.0.2"),  # E23
    ('{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","gateway":"bogus"}]}', False, "invalid IP address: bogus"),
    ("null", True, "1.0.0"),
])
def test_how_a_result_is_read(fakes, tmp_path, stdout, ok, text):
    cni = runtime(fakes, tmp_path)
    fakes.control("a", "ADD", stdout=stdout)
    if ok:
        assert cni.add_network_list(netlist("a"), rt())["cniVersion"] == text
    else:
        with pytest.raises(CNIRuntimeError, match=text):
            cni.add_network_list(netlist("a"), rt())


def test_plugin_stderr_is_passed_on_when_it_succeeds(fakes, tmp_path, capfd):
    cni = runtime(fakes, tmp_path)
    fakes.control("a", "ADD", stdout='{"cniVersion":"1.0.0"}', stderr="a log line\n")
    cni.add_network_list(netlist("a"), rt())
    assert "a log line" in capfd.readouterr().err


# --- R-VAL: validation only in ADD, after the plugin lookup ---------------------------------------------


@pytest.mark.parametrize("kw, name, code, msg", [
    ({"cid": ""}, "net", 3, "missing containerID"),
    ({"cid": "-abc"}, "net", 4, "invalid characters in containerID; -abc"),
    ({}, "te%st", 7, "invalid characters found in network name; te%st"),
    ({"ifname": "1234567890123456"}, "net", 4, "interface name is too long"),
    ({"ifname": "eth0:1"}, "net", 4, "interface name contains / or : or whitespace characters"),
    ({"ifname": ".."}, "net", 4, "interface name is . or .."),
])
def test_add_validates_container_id_network_name_and_ifname(fakes, tmp_path, kw, name, code, msg):
    cni = runtime(fakes, tmp_path)
    with pytest.raises(CNIRuntimeError) as ei:
        cni.add_network_list(netlist("a", name=name), rt(**kw))
    assert str(ei.value).startswith(f'plugin type="a" failed (add): {msg}')
    assert ei.value.code == code
    assert fakes.calls() == []


def test_a_missing_plugin_is_reported_before_validation(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    with pytest.raises(CNIRuntimeError) as ei:
        cni.add_network_list(netlist("zz"), rt(cid=""))
    assert str(ei.value) == \
        f'plugin type="zz" failed (add): failed to find plugin "zz" in path [{fakes.dir} /nonexistent]'
    assert ei.value.code is None


def test_del_does_not_validate(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    cni.del_network_list(netlist("a", name="te%st"), rt(cid="-abc", ifname="a:b"))
    assert cmds(fakes) == [("a", "DEL")]


# --- DEL ------------------------------------------------------------------------------------------------


def test_del_runs_in_reverse_with_the_cached_result_and_then_drops_the_cache(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", "b", "c")
    cni.add_network_list(net, rt())
    fakes.clear()
    cni.del_network_list(net, rt())
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("c", "DEL"), ("b", "DEL"), ("a", "DEL")]
    for c in calls:
        assert [i["name"] for i in c["conf"]["prevResult"]["interfaces"]] == ["a", "b", "c"]
        assert c["env"]["CNI_COMMAND"] == "DEL" and c["env"]["CNI_CONTAINERID"] == "ctr1"
    assert not os.path.exists(cache.file_path(cni.cache_dir, "net", "ctr1", "eth0"))
    fakes.clear()
    cni.del_network_list(net, rt())  # again: fine, and without prevResult
    assert all("prevResult" not in c["conf"] for c in fakes.calls())


def test_del_converts_the_cached_result_to_the_list_version(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    cni.add_network_list(netlist("a", version="1.0.0"), rt())
    fakes.clear()
    cni.del_network_list(netlist("a", version="0.4.0"), rt())
    prev = fakes.calls()[0]["conf"]["prevResult"]
    assert prev["cniVersion"] == "0.4.0" and prev["ips"][0]["version"] == "4"


def test_del_failure_stops_and_keeps_the_cache(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", "b", "c")
    cni.add_network_list(net, rt())
    fakes.clear()
    fakes.control("b", "DEL", exit=1, stdout='{"code":11,"msg":"busy"}')
    with pytest.raises(CNIRuntimeError) as ei:
        cni.del_network_list(net, rt())
    assert str(ei.value) == 'plugin type="b" failed (delete): busy' and ei.value.code == 11
    assert cmds(fakes) == [("c", "DEL"), ("b", "DEL")]
    assert os.path.exists(cache.file_path(cni.cache_dir, "net", "ctr1", "eth0"))


def test_del_below_040_sends_no_prevresult(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", version="0.3.1")
    cni.add_network_list(net, rt())
    fakes.clear()
    cni.del_network_list(net, rt())
    assert "prevResult" not in fakes.calls()[0]["conf"]


def test_del_with_an_unreadable_cache_drops_it_and_runs_without_prevresult(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    path = cache.file_path(cni.cache_dir, "net", "ctr1", "eth0")
    cache.write_atomic(path, '{"kind":"cniCacheV1","result":{"cniVersion":"7.7.7"}}')
    fakes.control("a", "DEL", exit=1, stdout='{"code":11,"msg":"later"}')
    with pytest.raises(CNIRuntimeError):
        cni.del_network_list(netlist("a"), rt())
    assert "prevResult" not in fakes.calls()[0]["conf"]
    assert not os.path.exists(path)  # removed before the plugins ran


# --- CHECK ------------------------------------------------------------------------------------------------


def test_check_runs_forward_with_the_cached_result(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", "b")
    cni.add_network_list(net, rt())
    fakes.clear()
    cni.check_network_list(net, rt())
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("a", "CHECK"), ("b", "CHECK")]
    assert all([i["name"] for i in c["conf"]["prevResult"]["interfaces"]] == ["a", "b"] for c in calls)


def test_check_version_gate_comes_before_disable_check(fakes, tmp_path):  # E06
    cni = runtime(fakes, tmp_path)
    with pytest.raises(CNIRuntimeError, match='^configuration version "0.3.1" does not support the CHECK command$'):
        cni.check_network_list(netlist("a", version="0.3.1", disableCheck=True), rt())
    cni.check_network_list(netlist("a", disableCheck=True), rt())
    assert fakes.calls() == []


def test_check_without_cache_sends_no_prevresult_and_returns_plugin_errors(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    fakes.control("b", "CHECK", exit=1, stdout='{"code":999,"msg":"eth0 missing"}')
    with pytest.raises(CNIRuntimeError) as ei:
        cni.check_network_list(netlist("a", "b", "c"), rt())
    assert str(ei.value) == "eth0 missing" and ei.value.code == 999
    assert "prevResult" not in fakes.calls()[0]["conf"]
    assert cmds(fakes) == [("a", "CHECK"), ("b", "CHECK")]


def test_check_with_a_bad_cache_fails(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    cache.write_atomic(cache.file_path(cni.cache_dir, "net", "ctr1", "eth0"), '{"cniVersion":"7.7.7"}')
    with pytest.raises(CNIRuntimeError, match='^failed to get network "net" cached result: '):
        cni.check_network_list(netlist("a"), rt())


# --- GC ------------------------------------------------------------------------------------------------------


def test_gc_dels_stale_attachments_then_gcs_every_plugin(fakes, tmp_path):  # E31
    cni = runtime(fakes, tmp_path)
    net = netlist("a", "b", version="1.1.0")
    cni.add_network_list(net, rt("c1"))
    cni.add_network_list(net, RuntimeConf("c2", "/run/netns/c2", "eth0", [("K", "v")], {"x": 1}))
    cni.add_network_list(netlist("a", name="other"), rt("c3"))
    fakes.clear()
    cni.gc_network_list(net, [("c1", "eth0")])
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("b", "DEL"), ("a", "DEL"), ("a", "GC"), ("b", "GC")]
    d = calls[0]
    assert (d["env"]["CNI_CONTAINERID"], d["env"]["CNI_NETNS"], d["env"]["CNI_ARGS"]) == ("c2", "/run/netns/c2", "K=v")
    assert d["conf"]["prevResult"]["interfaces"][-1]["name"] == "b"
    for g in calls[2:]:
        assert g["conf"]["cni.dev/valid-attachments"] == [{"containerID": "c1", "ifname": "eth0"}]
        assert g["conf"]["cni.dev/attachments"] == [{"containerID": "c1", "ifname": "eth0"}]
        assert '{"containerID":"c1","ifname":"eth0"}' in g["stdin"]
        assert "prevResult" not in g["conf"] and "runtimeConfig" not in g["conf"]
        assert {k: g["env"][k] for k in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS")} == \
            {"CNI_CONTAINERID": "", "CNI_NETNS": "", "CNI_IFNAME": "", "CNI_ARGS": ""}
    left = {(a.network, a.container_id) for a in cni.get_cached_attachments()}
    assert left == {("net", "c1"), ("other", "c3")}


def test_gc_without_valid_list_dels_everything_and_sends_no_attachment_keys(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", version="1.1.0")
    cni.add_network_list(net, rt("c1"))
    fakes.clear()
    cni.gc_network_list(net, None)
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("a", "DEL"), ("a", "GC")]
    assert "cni.dev/valid-attachments" not in calls[1]["conf"] and "cni.dev/attachments" not in calls[1]["conf"]
    assert cni.get_cached_attachments() == []


def test_gc_below_110_only_dels(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", version="1.0.0")
    cni.add_network_list(net, rt("c1"))
    fakes.clear()
    cni.gc_network_list(net, [])
    assert cmds(fakes) == [("a", "DEL")]


def test_gc_disabled_does_nothing(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", version="1.1.0", disableGC=True)
    cni.add_network_list(net, rt("c1"))
    fakes.clear()
    cni.gc_network_list(net, [])
    assert fakes.calls() == [] and len(cni.get_cached_attachments()) == 1


def test_gc_collects_errors_and_goes_on(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a", "b", version="1.1.0")
    cni.add_network_list(net, rt("c1"))
    fakes.clear()
    fakes.control("b", "DEL", exit=1, stdout='{"code":11,"msg":"no"}')
    fakes.control("a", "GC", exit=1, stdout='{"code":999,"msg":"gc broke"}')
    with pytest.raises(CNIRuntimeError) as ei:
        cni.gc_network_list(net, [])
    assert str(ei.value) == ('failed to delete stale attachment c1 eth0: plugin type="b" failed (delete): no\n'
                             "failed to GC plugin a: gc broke")
    assert cmds(fakes) == [("b", "DEL"), ("a", "GC"), ("b", "GC")]


# --- STATUS ----------------------------------------------------------------------------------------------------


def test_status_below_110_calls_nothing(fakes, tmp_path):  # E07
    runtime(fakes, tmp_path).get_status_network_list(netlist("a", version="1.0.0"))
    assert fakes.calls() == []


def test_status_stops_at_the_first_error_and_keeps_its_code(fakes, tmp_path):  # E32
    cni = runtime(fakes, tmp_path)
    fakes.control("b", "STATUS", exit=1, stdout='{"code":50,"msg":"daemon down"}')
    with pytest.raises(CNIRuntimeError) as ei:
        cni.get_status_network_list(netlist("a", "b", "c", version="1.1.0"))
    assert str(ei.value) == "daemon down" and ei.value.code == 50
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("a", "STATUS"), ("b", "STATUS")]
    assert calls[0]["stdin"] == '{"cniVersion":"1.1.0","name":"net","type":"a"}'
    assert calls[0]["env"]["CNI_CONTAINERID"] == "" and calls[0]["env"]["CNI_PATH"].startswith(fakes.dir)


# --- VERSION / validation / cached config --------------------------------------------------------------------


@pytest.mark.parametrize("reply, expected", [  # E20
    ('{"cniVersion":"0.2.0"}', ["0.1.0", "0.2.0"]),
    ('{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0"]}', ["0.4.0", "1.0.0"]),
    ('{"cniVersion":"0.3.0"}', "decoding version info: missing field supportedVersions"),
    ('{"supportedVersions":["1.0.0"]}', "decoding version info: missing field cniVersion"),
])
def test_version_info_decoding(fakes, tmp_path, reply, expected):
    cni = runtime(fakes, tmp_path)
    fakes.control("a", "VERSION", stdout=reply)
    if isinstance(expected, list):
        assert cni.get_version_info("a") == expected
    else:
        with pytest.raises(CNIRuntimeError, match=expected):
            cni.get_version_info("a")
    env = fakes.calls()[0]["env"]
    assert (env["CNI_NETNS"], env["CNI_IFNAME"], env["CNI_PATH"]) == ("dummy", "dummy", "dummy")


def test_version_info_of_a_plugin_that_does_not_know_version(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    fakes.control("a", "VERSION", exit=1, stdout='{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}')
    assert cni.get_version_info("a") == ["0.1.0"]


def test_validate_network_list(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    FakePlugins(fakes.dir).add("old", versions=["0.3.1"])
    net = netlist({"type": "a", "capabilities": {"mac": True, "ips": False}},
                  {"type": "b", "capabilities": {"dns": True}})
    assert cni.validate_network_list(net) == ["dns", "mac"]
    with pytest.raises(CNIRuntimeError, match='plugin old does not support config version "1.0.0"'):
        cni.validate_network_list(netlist("a", "old"))


def test_cached_config_gives_the_list_bytes_and_the_cached_runtime_args(fakes, tmp_path):
    cni = runtime(fakes, tmp_path)
    net = netlist("a")
    cni.add_network_list(net, RuntimeConf("c1", "/ns", "eth0", [("A", "1")], {"mac": "x"}))
    data, new = cni.get_network_list_cached_config(net, rt("c1"))
    assert data == net.data and new.args == [("A", "1")] and new.capability_args == {"mac": "x"}
    assert cni.get_network_list_cached_config(net, rt("zz")) == (None, None)
    assert cni.get_network_list_cached_result(net, rt("c1"))["interfaces"][0]["name"] == "a"


# --- with pycni's own static plugin (no root needed: static touches nothing) -------------------------------------


@pytest.fixture
def pycni_bin(tmp_path):
    from pycni.cli.install import install

    d = str(tmp_path / "pycni-bin")
    install(d, ["static"])
    return d


@pytest.mark.parametrize("in_process", [False, True])
def test_pycni_static_runs_as_a_chain_member(pycni_bin, tmp_path, in_process):
    cni = CNIRuntime([pycni_bin], str(tmp_path / "cache"), in_process=in_process)
    net = network_conf_from_bytes(json.dumps({"cniVersion": "1.0.0", "name": "st", "plugins": [
        {"type": "static", "ipam": {"type": "static", "addresses": [{"address": "10.5.0.2/24", "gateway": "10.5.0.1"}],
         "routes": [{"dst": "0.0.0.0/0", "gw": "10.5.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.5.0.254"}]}}]}).encode())
    r = RuntimeConf("c1", "/run/netns/none", "eth0")
    result = cni.add_network_list(net, r)
    assert result["ips"] == [{"address": "10.5.0.2/24", "gateway": "10.5.0.1"}]
    assert [x.get("gw") for x in result["routes"]] == ["10.5.0.1", "10.5.0.254"]
    cni.check_network_list(net, r)
    cni.del_network_list(net, r)
    assert cni.get_cached_attachments() == []
    assert "1.0.0" in cni.get_version_info("static")


def test_every_documented_name_is_exported():
    import pycni.runtime as runtime_pkg

    for name in runtime_pkg.__all__:
        assert getattr(runtime_pkg, name) is not None
