"""`pycni add|check|del|gc|status` with cnitool's conventions (R-TOOL-01..04, P-ARG-06)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from runtime_fakes import FakePlugins, write  # noqa: E402

from pycni.cli import runtime_cmds as R  # noqa: E402
from pycni.cli.main import build_parser  # noqa: E402


@pytest.mark.parametrize("value, pairs", [
    ("IgnoreUnknown=1;K8S_POD_NAME=p", [("IgnoreUnknown", "1"), ("K8S_POD_NAME", "p")]),
    ("A=b", [("A", "b")]),
])
def test_cni_args_strict_parse(value, pairs):
    assert R.parse_cni_args(value) == pairs


@pytest.mark.parametrize("value, bad", [
    ("IP=1.2.3.4;", '""'), ("K=a=b", '"K=a=b"'), ("K=", '"K="'), ("=v", '"=v"'), ("IP", '"IP"'),
])
def test_cni_args_rejects_what_cnitool_rejects(value, bad):
    with pytest.raises(R.UsageError) as ei:
        R.parse_cni_args(value)
    assert str(ei.value) == f"invalid CNI_ARGS pair {bad}"


def test_cap_args():
    assert R.parse_cap_args('{"portMappings":[{"hostPort":8080}],"mac":"x"}') == {
        "portMappings": [{"hostPort": 8080.0}], "mac": "x"}
    assert R.parse_cap_args("null") is None
    with pytest.raises(R.UsageError,
                       match=r"^json: cannot unmarshal array into Go value of type map\[string\]interface \{\}$"):
        R.parse_cap_args("[1]")
    with pytest.raises(R.UsageError, match="^invalid character 'x' looking for beginning of value$"):
        R.parse_cap_args("x")


def test_container_id_is_cnitool_plus_20_hex_of_sha512_of_the_absolute_netns(tmp_path, monkeypatch):
    assert R.container_id_for("/var/run/netns/ctr") == \
        "cnitool-" + hashlib.sha512(b"/var/run/netns/ctr").hexdigest()[:20]
    monkeypatch.chdir(tmp_path)
    assert R.go_abs("ns/../x") == f"{tmp_path}/x"
    assert R.go_abs("//run//netns/a/") == "/run/netns/a"


def _setup(args, env, monkeypatch):
    seen = {}

    def fake_load(d, name):
        seen["dir"], seen["name"] = d, name
        return "NET"

    monkeypatch.setattr(R, "load_network", fake_load)
    ns = build_parser().parse_args(args)
    net, rt = R.setup(ns, env)
    return seen, rt


def test_setup_follows_cnitool(monkeypatch):
    seen, rt = _setup(["add", "mynet", "/run/netns/c"], {"CNI_ARGS": "A=1", "CAP_ARGS": '{"mac":"m"}'}, monkeypatch)
    assert seen == {"dir": "/etc/cni/net.d", "name": "mynet"}
    assert (rt.ifname, rt.netns, rt.args, rt.capability_args) == ("eth0", "/run/netns/c", [("A", "1")], {"mac": "m"})
    assert rt.container_id == R.container_id_for("/run/netns/c")
    seen, rt = _setup(["del", "n", "/x", "--container-id", "given"], {"NETCONFPATH": "/cfg", "CNI_IFNAME": "net1"},
                      monkeypatch)
    got = (seen["dir"], rt.ifname, rt.container_id, rt.args, rt.capability_args)
    assert got == ("/cfg", "net1", "given", None, None)
    _, rt = _setup(["check", "n", "/x", "-i", "flag0"], {"CNI_IFNAME": "net1"}, monkeypatch)
    assert rt.ifname == "flag0"


# --- the command itself, end to end with fake plugins -------------------------------------------------


@pytest.fixture
def world(tmp_path):
    fakes = FakePlugins(tmp_path / "bin").add("a", "b")
    write(str(tmp_path / "net.d" / "10-n.conflist"), json.dumps(
        {"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "a"}, {"type": "b"}]}))
    env = fakes.env(NETCONFPATH=str(tmp_path / "net.d"), CNI_PATH=fakes.dir)
    env.pop("CNI_ARGS", None), env.pop("CAP_ARGS", None), env.pop("CNI_IFNAME", None)
    return fakes, env, str(tmp_path / "cache")


def pycni(args, env):
    return subprocess.run([sys.executable, "-m", "pycni.cli.main", *args], env=env, capture_output=True, text=True)


def test_add_prints_the_result_and_del_removes_the_cache(world):
    fakes, env, cache_dir = world
    p = pycni(["add", "n", "/run/netns/c1", "--cache-dir", cache_dir], env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["cniVersion"] == "1.1.0" and [i["name"] for i in out["interfaces"]] == ["a", "b"]
    assert p.stdout.startswith('{\n    "cniVersion": "1.1.0",\n    "interfaces": [')  # Go's MarshalIndent
    cid = R.container_id_for("/run/netns/c1")
    assert os.listdir(os.path.join(cache_dir, "results")) == [f"n-{cid}-eth0"]
    assert pycni(["check", "n", "/run/netns/c1", "--cache-dir", cache_dir], env).returncode == 0
    assert pycni(["status", "n", "/run/netns/c1", "--cache-dir", cache_dir], env).returncode == 0
    p = pycni(["del", "n", "/run/netns/c1", "--cache-dir", cache_dir], env)
    assert p.returncode == 0 and p.stdout == ""
    assert os.listdir(os.path.join(cache_dir, "results")) == []
    assert [(c["plugin"], c["cmd"]) for c in fakes.calls()] == [
        ("a", "ADD"), ("b", "ADD"), ("a", "CHECK"), ("b", "CHECK"), ("a", "STATUS"), ("b", "STATUS"),
        ("b", "DEL"), ("a", "DEL")]


def test_gc_keeps_the_listed_attachments(world):
    fakes, env, cache_dir = world
    for ns in ("/run/netns/c1", "/run/netns/c2"):
        assert pycni(["add", "n", ns, "--cache-dir", cache_dir], env).returncode == 0
    fakes.clear()
    keep = R.container_id_for("/run/netns/c1")
    p = pycni(["gc", "n", "/ignored", "--cache-dir", cache_dir, "--valid-attachment", keep, "eth0"], env)
    assert p.returncode == 0, p.stderr
    assert [(c["plugin"], c["cmd"]) for c in fakes.calls()] == [("b", "DEL"), ("a", "DEL"), ("a", "GC"), ("b", "GC")]
    assert os.listdir(os.path.join(cache_dir, "results")) == [f"n-{keep}-eth0"]
    fakes.clear()
    assert pycni(["gc", "n", "/ignored", "--cache-dir", cache_dir], env).returncode == 0
    assert os.listdir(os.path.join(cache_dir, "results")) == []
    assert "cni.dev/attachments" not in fakes.calls()[-1]["conf"]


@pytest.mark.parametrize("extra_env, message", [
    ({"CNI_ARGS": "K=a=b"}, 'invalid CNI_ARGS pair "K=a=b"'),
    ({"CAP_ARGS": "[]"}, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ({"NETCONFPATH": "/nonexistent-pycni"}, "no net configurations found in /nonexistent-pycni"),
])
def test_errors_go_to_stderr_with_exit_1(world, extra_env, message):
    _, env, cache_dir = world
    env.update(extra_env)
    p = pycni(["add", "n", "/run/netns/c1", "--cache-dir", cache_dir], env)
    assert (p.returncode, p.stdout, p.stderr) == (1, "", message + "\n")


def test_plugin_error_is_reported_with_libcni_wrapping(world):
    fakes, env, cache_dir = world
    fakes.control("b", "ADD", exit=1, stdout='{"code":7,"msg":"boom"}')
    p = pycni(["add", "n", "/run/netns/c1", "--cache-dir", cache_dir, "-i", "net1"], env)
    assert (p.returncode, p.stderr) == (1, 'plugin type="b" failed (add): boom\n')
    assert fakes.calls()[0]["env"]["CNI_IFNAME"] == "net1"


def test_missing_arguments_is_a_usage_error(world):
    _, env, _ = world
    p = pycni(["add", "n"], env)
    assert p.returncode != 0 and "netns" in p.stderr
