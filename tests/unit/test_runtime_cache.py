"""The result cache: libcni's path, format and permissions, atomic writes, reading (R-CACHE-01..05)."""

from __future__ import annotations

import base64
import json
import os
import posix
import stat

import pytest

from pycni.runtime import cache
from pycni.runtime.errors import CNIRuntimeError

RESULT_100 = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
              "ips": [{"address": "10.1.2.3/24", "gateway": "10.1.2.1", "interface": 0}],
              "routes": [{"dst": "0.0.0.0/0"}]}


def test_path_layout_and_default_dir():
    assert cache.file_path("/c", "net", "id1", "eth0") == "/c/results/net-id1-eth0"
    assert cache.file_path("", "net", "id1", "eth0") == "/var/lib/cni/results/net-id1-eth0"


@pytest.mark.parametrize("args", [("", "id", "eth0"), ("net", "", "eth0"), ("net", "id", "")])
def test_path_needs_all_three_parts(args):
    with pytest.raises(CNIRuntimeError, match=r"^cache file path requires network name \(.*\), container ID "
                                              r"\(.*\), and interface name \(.*\)$"):
        cache.file_path("/c", *args)


def test_format_is_libcni_cachedinfo_in_field_order():
    text = cache.encode(RESULT_100, b'{"name":"net"}', "net", "id1", "eth0", "/run/netns/x",
                        [("K8S_POD_NAME", "p"), ("IgnoreUnknown", "1")], {"portMappings": [{"hostPort": 80}], "a": 1})
    obj = json.loads(text)
    assert list(obj) == ["kind", "containerId", "config", "ifName", "networkName", "netns", "cniArgs",
                         "capabilityArgs", "result"]
    assert obj["kind"] == "cniCacheV1"
    assert base64.b64decode(obj["config"]) == b'{"name":"net"}'
    assert obj["cniArgs"] == [["K8S_POD_NAME", "p"], ["IgnoreUnknown", "1"]]
    assert text.startswith('{"kind":"cniCacheV1","containerId":"id1","config":"eyJuYW1lIjoibmV0In0=","ifName":"eth0",'
                           '"networkName":"net","netns":"/run/netns/x",')
    # maps (capabilityArgs, result) are marshalled with sorted keys, compact
    assert '"capabilityArgs":{"a":1,"portMappings":[{"hostPort":80}]}' in text
    assert ('"result":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"ips":'
            '[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0}],"routes":[{"dst":"0.0.0.0/0"}]}}') in text


def test_empty_optional_fields_are_omitted():
    obj = json.loads(cache.encode(None, b"", "net", "id", "eth0", "", None, None))
    assert obj == {"kind": "cniCacheV1", "containerId": "id", "config": "", "ifName": "eth0", "networkName": "net"}
    obj = json.loads(cache.encode(None, b"x", "net", "id", "eth0", "", [], {}))
    assert "cniArgs" not in obj and "capabilityArgs" not in obj


def test_write_is_atomic_with_0700_dirs_and_0600_file(tmp_path):
    path = cache.file_path(str(tmp_path / "a" / "b"), "net", "id", "eth0")
    old = os.umask(0)
    try:
        cache.write_atomic(path, "first")
        cache.write_atomic(path, "second")
    finally:
        os.umask(old)
    assert open(path).read() == "second"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for d in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "results"):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert os.listdir(os.path.dirname(path)) == ["net-id-eth0"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = cache.file_path(str(tmp_path), "net", "id", "eth0")
    cache.write_atomic(path, "old")

    def boom(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(posix, "fsync", boom)  # atomicfile works on posix directly
    with pytest.raises(OSError):
        cache.write_atomic(path, "new")
    assert open(path).read() == "old"
    assert os.listdir(os.path.dirname(path)) == ["net-id-eth0"]


def _write(tmp_path, name, text):
    d = tmp_path / "results"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return str(d / name)


def test_cached_result_roundtrip_and_conversion_to_the_list_version(tmp_path):
    path = _write(tmp_path, "net-id-eth0", cache.encode(RESULT_100, b"{}", "net", "id", "eth0", "", None, None))
    assert cache.cached_result(path, "1.0.0") == cache.result_from_bytes(json.dumps(RESULT_100))
    r = cache.cached_result(path, "0.4.0")
    assert r["cniVersion"] == "0.4.0" and r["ips"][0]["version"] == "4"


def test_missing_file_is_no_result(tmp_path):
    assert cache.cached_result(str(tmp_path / "nope"), "1.0.0") is None


def test_legacy_file_is_a_bare_result(tmp_path):
    path = _write(tmp_path, "net-id-eth0", json.dumps({"cniVersion": "0.3.1", "ips": [
        {"version": "4", "address": "10.0.0.2/24"}]}))
    r = cache.cached_result(path, "1.0.0")
    assert r["cniVersion"] == "1.0.0" and r["ips"][0]["address"] == "10.0.0.2/24"


def test_wrong_kind_or_bad_types_fall_back_to_the_legacy_parse(tmp_path):
    # a cniCacheV1-looking file with a bad field type is read as a bare (0.1.0, empty) result:
    # its "result" is not used
    path = _write(tmp_path, "f", json.dumps({"kind": "cniCacheV1", "containerId": 5, "result": RESULT_100}))
    r = cache.cached_result(path, "1.0.0")
    assert r["cniVersion"] == "1.0.0" and "ips" not in r
    path = _write(tmp_path, "g", json.dumps({"kind": "v2", "cniVersion": "9.9.9"}))
    with pytest.raises(CNIRuntimeError, match='unsupported CNI result version "9.9.9"'):
        cache.cached_result(path, "1.0.0")
    # invalid base64 in config is an unmarshal error too
    assert cache.decode(json.dumps({"kind": "cniCacheV1", "config": "!!"}).encode()) is None


def test_conversion_failure_has_libcni_text(tmp_path):
    res = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}]}
    path = _write(tmp_path, "f", cache.encode(res, b"{}", "net", "id", "eth0", "", None, None))
    with pytest.raises(CNIRuntimeError, match='^failed to convert cached result to config version "0.2.0": '):
        cache.cached_result(path, "0.2.0")


def test_cached_config_errors(tmp_path):
    path = _write(tmp_path, "a", "not json")
    with pytest.raises(CNIRuntimeError, match='failed to unmarshal cached network "net" config'):
        cache.cached_config(path, "net")
    path = _write(tmp_path, "b", '{"kind":"other"}')
    with pytest.raises(CNIRuntimeError, match='read cached network "net" config has wrong kind: other'):
        cache.cached_config(path, "net")
    assert cache.cached_config(str(tmp_path / "missing"), "net") is None


def test_attachments_filter_by_json_fields_and_file_name(tmp_path):
    enc = cache.encode
    _write(tmp_path, "n1-c1-eth0", enc(None, b"{}", "n1", "c1", "eth0", "/ns/1", [("A", "b")], {"x": 1}))
    _write(tmp_path, "n1-c2-eth0", enc(None, b"{}", "n1", "c2", "eth0", "", None, None))
    _write(tmp_path, "n2-c1-net1", enc(None, b"{}", "n2", "c1", "net1", "", None, None))
    _write(tmp_path, "junk", "xx")
    _write(tmp_path, "n1-c3-eth0", json.dumps({"kind": "cniCacheV1", "containerId": "c3", "networkName": "n1"}))
    _write(tmp_path, "legacy", json.dumps(RESULT_100))
    all_ = cache.attachments(str(tmp_path))
    assert [(a.network_name, a.container_id, a.ifname) for a in all_] == [
        ("n1", "c1", "eth0"), ("n1", "c2", "eth0"), ("n2", "c1", "net1")]
    a = all_[0]
    assert (a.netns, a.cni_args, a.capability_args, a.config) == ("/ns/1", [("A", "b")], {"x": 1}, b"{}")
    of_c1 = cache.attachments(str(tmp_path), "c1")
    assert [(a.network_name, a.ifname) for a in of_c1] == [("n1", "eth0"), ("n2", "net1")]
    # the ID must sit strictly inside the file name, and the JSON must agree
    _write(tmp_path, "x-c9-y", enc(None, b"{}", "x", "other", "y", "", None, None))
    assert cache.attachments(str(tmp_path), "c9") == []


def test_attachments_of_a_missing_dir_is_empty(tmp_path):
    assert cache.attachments(str(tmp_path / "none")) == []
