"""pycni.skel: the plugin-side dispatcher, check by check in the reference's order
(cni-spec-checklist 1.1-1.11 and 1.21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from pycni import skel
from pycni.spec.errors import CNIError

ALL = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CONF = b'{"cniVersion":"1.0.0","name":"mynet","type":"x"}'
ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/some/where", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/opt/cni/bin"}


class Recorder:
    """A plugin whose callbacks record their calls and return/raise what they are told."""

    def __init__(self, result=None, raises=None, versions=ALL, gc=False, status=False) -> None:  # noqa: ANN001
        self.calls: list[str] = []
        self.args: skel.CmdArgs | None = None
        self.result, self.raises = result, raises

        def handler(name: str):  # noqa: ANN202
            def f(args: skel.CmdArgs):  # noqa: ANN202
                self.calls.append(name)
                self.args = args
                if self.raises is not None:
                    raise self.raises
                return self.result if name == "add" else None
            return f

        impl = SimpleNamespace(cmd_add=handler("add"), cmd_del=handler("del"), cmd_check=handler("check"),
                               cmd_gc=handler("gc") if gc else None, cmd_status=handler("status") if status else None)
        self.plugin = skel.Plugin("rec", impl=impl, versions=versions)


def call(env: dict, stdin: bytes = CONF, rec: Recorder | None = None, same_netns=None) -> skel.Outcome:  # noqa: ANN001
    rec = rec or Recorder()
    return skel.run(rec.plugin, env, stdin, same_netns)


def env(**over: str | None) -> dict[str, str]:
    e = dict(ENV)
    for k, v in over.items():
        key = "CNI_" + k.upper()
        if v is None:
            e.pop(key, None)
        else:
            e[key] = v
    return e


def err(o: skel.Outcome) -> tuple[int, str, str]:
    assert o.error is not None, o.stdout()
    return o.error.code, o.error.msg, o.error.details


# --- 1. the environment ------------------------------------------------------------------------


def test_e08_missing_variables_are_reported_together_in_order() -> None:
    o = call({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1"})
    assert err(o) == (4, "required env variables [CNI_NETNS,CNI_IFNAME,CNI_PATH] missing", "")


def test_an_empty_variable_counts_as_missing() -> None:
    assert err(call(env(netns="", path=""))) == (4, "required env variables [CNI_NETNS,CNI_PATH] missing", "")


@pytest.mark.parametrize(
    "command, required",
    [
        ("ADD", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
        ("CHECK", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
        ("DEL", "CNI_CONTAINERID,CNI_IFNAME,CNI_PATH"),  # DEL works without a netns
        ("GC", "CNI_PATH"),
        ("STATUS", "CNI_PATH"),
    ],
)
def test_required_variables_per_command(command: str, required: str) -> None:
    o = call({"CNI_COMMAND": command})
    assert err(o) == (4, f"required env variables [{required}] missing", "")


def test_version_needs_only_the_command() -> None:
    assert call({"CNI_COMMAND": "VERSION"}).error is None


def test_cni_args_is_never_required() -> None:
    assert call(env(args=None), rec=Recorder(result={"cniVersion": "1.1.0"})).error is None


@pytest.mark.parametrize("cid", ["-abc", "_abc", ".abc", "a b", "a/b", "a:b", "é", "abc$", "abc\n", "a\udcff"])
def test_e10_invalid_container_ids(cid: str) -> None:
    shown = cid
    assert err(call(env(containerid=cid))) == (4, "invalid characters in containerID", shown)


@pytest.mark.parametrize("cid", ["a", "abc-DEF_1.2", "0", "a" * 500, "A.-_"])
def test_valid_container_ids(cid: str) -> None:
    assert call(env(containerid=cid), rec=Recorder(result={"cniVersion": "1.1.0"})).error is None


@pytest.mark.parametrize(
    "ifname, message, details",
    [
        ("1234567890123456", "interface name is too long", "interface name should be less than 16 characters"),
        ("ethééééééé", "interface name is too long", "interface name should be less than 16 characters"),  # bytes
        (".", "interface name is . or ..", ""),
        ("..", "interface name is . or ..", ""),
        ("eth0:1", "interface name contains / or : or whitespace characters", ""),
        ("eth/0", "interface name contains / or : or whitespace characters", ""),
        ("eth 0", "interface name contains / or : or whitespace characters", ""),
        ("eth\t0", "interface name contains / or : or whitespace characters", ""),
        ("eth\u00a00", "interface name contains / or : or whitespace characters", ""),  # Unicode whitespace
        ("e\u30000", "interface name contains / or : or whitespace characters", ""),
        ("e\u20090", "interface name contains / or : or whitespace characters", ""),
    ],
)
def test_e09_invalid_interface_names(ifname: str, message: str, details: str) -> None:
    assert err(call(env(ifname=ifname))) == (4, message, details)


@pytest.mark.parametrize("ifname", ["123456789012345", "a.b", "-x", "@#!", "eth\x1c0", "eth\u200b0", "ethéééééé"])
def test_valid_interface_names(ifname: str) -> None:
    # \x1c is whitespace to Python but not to Go; U+200B is not whitespace to either
    assert call(env(ifname=ifname), rec=Recorder(result={"cniVersion": "1.1.0"})).error is None


def test_an_invalid_container_id_is_reported_before_missing_variables() -> None:
    o = call({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "-abc"})
    assert err(o) == (4, "invalid characters in containerID", "-abc")


def test_container_id_is_checked_before_the_interface_name() -> None:
    assert err(call(env(containerid="-abc", ifname=".")))[1] == "invalid characters in containerID"


def test_an_invalid_interface_name_is_reported_before_a_missing_netns_and_path() -> None:
    assert err(call(env(ifname=".", netns=None, path=None)))[1] == "interface name is . or .."


def test_invalid_environment_is_reported_before_bad_stdin() -> None:
    assert err(call(env(ifname="."), stdin=b"not json"))[1] == "interface name is . or .."


@pytest.mark.parametrize("command", ["GC", "STATUS", "VERSION", "NOPE"])
def test_container_id_and_ifname_are_not_looked_at_for_other_commands(command: str) -> None:
    o = call(env(command=command, containerid="-abc", ifname="."),
             stdin=b'{"cniVersion":"1.1.0","name":"mynet"}')
    assert o.error is None or o.error.msg == f"unknown CNI_COMMAND: {command}"


# --- 2. stdin ----------------------------------------------------------------------------------


def test_stdin_read_failure_is_code_5() -> None:
    def broken() -> bytes:
        raise OSError("read /dev/stdin: bad file descriptor")

    assert err(skel.run(Recorder().plugin, ENV, broken)) == (
        5, "error reading from stdin: read /dev/stdin: bad file descriptor", "")


def test_version_never_reads_stdin() -> None:
    def must_not_read() -> bytes:
        raise AssertionError("stdin read for VERSION")

    o = skel.run(Recorder().plugin, {"CNI_COMMAND": "VERSION"}, must_not_read)
    assert o.error is None


@pytest.mark.parametrize(
    "stdin, code, message, details",
    [
        (b"not json", 6, "error unmarshall network config: invalid character 'o' in literal null (expecting 'u')", ""),
        (b"", 6, "error unmarshall network config: unexpected end of JSON input", ""),
        (b"[1]", 6, 'error unmarshall network config: json: cannot unmarshal array into Go value of type '
                    'struct { Name string "json:\\"name\\"" }', ""),
        (b'{"name": 5}', 6, "error unmarshall network config: json: cannot unmarshal number into Go struct field "
                            ".name of type string", ""),
        (b'{"cniVersion":"1.0.0","type":"x"}', 7, "missing network name", ""),  # E11
        (b'{"name":""}', 7, "missing network name", ""),
        (b"null", 7, "missing network name", ""),
        (b'{"name":"te%st"}', 7, "invalid characters found in network name", "te%st"),  # E11
        (b'{"name":"-net"}', 7, "invalid characters found in network name", "-net"),
        (b'{"name":"my net"}', 7, "invalid characters found in network name", "my net"),
    ],
)
def test_stdin_checks(stdin: bytes, code: int, message: str, details: str) -> None:
    rec = Recorder()
    assert err(call(ENV, stdin, rec)) == (code, message, details)
    assert rec.calls == []


def test_name_key_matches_case_insensitively() -> None:
    assert call(ENV, b'{"cniVersion":"1.0.0","NAME":"mynet"}', Recorder(result={"cniVersion": "1.1.0"})).error is None


# --- 3. dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["add", "Add", "NOPE", "version", "del "])
def test_e13_unknown_commands_are_code_4(command: str) -> None:
    assert err(call(env(command=command))) == (4, f"unknown CNI_COMMAND: {command}", "")


def test_an_unknown_command_with_bad_stdin_reports_the_stdin_problem() -> None:
    assert err(call(env(command="NOPE"), b'{"name":"te%st"}'))[0] == 7
    assert err(call(env(command="NOPE"), b"x"))[0] == 6


def test_e14_no_command_prints_the_about_text_on_stderr_and_succeeds() -> None:
    rec = Recorder()
    o = call({}, rec=rec)
    assert o.error is None and o.exit_code == 0 and o.stdout() == ""
    assert o.stderr == ("CNI rec plugin pycni 0.1.0\nCNI protocol versions supported: "
                        "0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n")
    assert rec.calls == []


def test_about_text_also_when_other_variables_are_set() -> None:
    assert call(env(command=None)).stderr.startswith("CNI rec plugin")
    assert call(env(command="")).stderr.startswith("CNI rec plugin")


def test_without_an_about_text_a_missing_command_is_code_4() -> None:
    rec = Recorder()
    rec.plugin.about = ""
    assert err(call({}, rec=rec)) == (4, "required env variables [CNI_COMMAND] missing", "")


def test_version_reply_exact_bytes() -> None:  # P-VSN-02, E19
    o = call({"CNI_COMMAND": "VERSION"}, b'{"cniVersion":"0.4.0"}')
    assert o.stdout() == ('{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0",'
                          '"1.0.0","1.1.0"]}\n')
    assert o.exit_code == 0


def test_version_reply_lists_the_plugins_versions() -> None:
    o = call({"CNI_COMMAND": "VERSION"}, rec=Recorder(versions=("0.4.0", "1.0.0")))
    assert json.loads(o.stdout()) == {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0"]}


# --- 4. versions -------------------------------------------------------------------------------


def conf(version) -> bytes:  # noqa: ANN001
    c = {"name": "mynet"}
    if version is not None:
        c["cniVersion"] = version
    return json.dumps(c).encode()


@pytest.mark.parametrize("command", ["ADD", "DEL"])
@pytest.mark.parametrize("version", ["1.0", "adsfsadf", "0.5.0", "1.0.0.0"])
def test_e04_add_and_del_need_an_exact_version_string(command: str, version: str) -> None:
    o = call(env(command=command), conf(version))
    assert err(o) == (1, "incompatible CNI versions", f'config is "{version}", plugin supports '
                      '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]')


def test_e05_no_version_means_0_1_0() -> None:
    rec = Recorder(versions=("1.0.0", "1.1.0"))
    o = call(ENV, conf(None), rec)
    assert err(o) == (1, "incompatible CNI versions", 'config is "0.1.0", plugin supports ["1.0.0" "1.1.0"]')
    o = call(ENV, conf(""), rec)
    assert err(o)[2].startswith('config is "0.1.0"')


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS"])
@pytest.mark.parametrize("value, kind", [(1, "number"), (True, "bool"), ([], "array"), ({}, "object")])
def test_e12_a_non_string_version_is_code_6_everywhere(command: str, value: object, kind: str) -> None:
    o = call(env(command=command), json.dumps({"name": "mynet", "cniVersion": value}).encode())
    assert err(o) == (6, "decoding version from network config: json: cannot unmarshal "
                         f"{kind} into Go struct field .cniVersion of type string", "")


@pytest.mark.parametrize("command, minimum", [("CHECK", "0.4.0"), ("GC", "1.1.0"), ("STATUS", "1.1.0")])
def test_e06_e07_version_gates(command: str, minimum: str) -> None:
    for v in ALL:
        rec = Recorder(gc=True, status=True)
        o = call(env(command=command), conf(v), rec)
        if tuple(map(int, v.split("."))) < tuple(map(int, minimum.split("."))):
            assert err(o) == (1, f"config version does not allow {command}", "")
            assert rec.calls == []
        else:
            assert o.error is None and rec.calls == [command.lower()]


@pytest.mark.parametrize("command", ["CHECK", "GC", "STATUS"])
def test_unparsable_version_is_code_6_for_gated_commands(command: str) -> None:
    o = call(env(command=command), conf("adsfsadf"))
    assert err(o) == (6, 'failed to convert major version part "adsfsadf": strconv.Atoi: parsing "adsfsadf": '
                         "invalid syntax", "")


@pytest.mark.parametrize("command", ["CHECK", "GC", "STATUS"])
def test_a_version_above_every_supported_one_is_not_allowed(command: str) -> None:
    assert err(call(env(command=command), conf("2.0.0"))) == (1, f"plugin version does not allow {command}", "")


def test_gated_commands_still_need_an_exact_version_string() -> None:
    o = call(env(command="CHECK"), conf("0.5.0"))
    assert err(o)[:2] == (1, "incompatible CNI versions")


@pytest.mark.parametrize("command", ["GC", "STATUS"])
def test_gc_and_status_without_callbacks_succeed_silently(command: str) -> None:
    o = call({"CNI_COMMAND": command, "CNI_PATH": "/x"}, conf("1.1.0"))
    assert o.error is None and o.stdout() == "" and o.exit_code == 0


# --- 5. callbacks ------------------------------------------------------------------------------


def test_cmd_args_carry_the_environment_and_stdin() -> None:
    rec = Recorder(result={"cniVersion": "1.1.0"})
    call(env(args="A=1"), CONF, rec)
    a = rec.args
    assert a is not None
    assert (a.command, a.container_id, a.netns, a.ifname, a.args, a.path, a.stdin) == (
        "ADD", "c1", "/some/where", "eth0", "A=1", "/opt/cni/bin", CONF)
    assert a.conf == json.loads(CONF)


def test_add_result_is_printed_in_the_config_version() -> None:
    rec = Recorder(result={"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}], "dns": {}})
    o = call(ENV, b'{"cniVersion":"0.3.1","name":"mynet"}', rec)
    assert o.stdout() == ('{\n    "cniVersion": "0.3.1",\n    "ips": [\n        {\n            "version": "4",\n'
                          '            "address": "10.0.0.2/24"\n        }\n    ],\n    "dns": {}\n}')


def test_add_result_that_cannot_be_converted_is_code_999() -> None:
    rec = Recorder(result={"cniVersion": "1.1.0", "dns": {}})
    assert err(call(ENV, b'{"cniVersion":"0.2.0","name":"mynet"}', rec)) == (
        999, "cannot convert: no valid IP addresses", "")


def test_a_cni_error_from_a_callback_passes_through_unchanged() -> None:  # P-ERR-03
    o = call(ENV, rec=Recorder(raises=CNIError(1234, "custom", "more")))
    assert err(o) == (1234, "custom", "more")
    assert o.stdout() == '{\n    "code": 1234,\n    "msg": "custom",\n    "details": "more"\n}'


@pytest.mark.parametrize("exc", [ValueError("bad value"), OSError("disk on fire")])
def test_a_plain_error_from_a_callback_is_code_999_with_its_text(exc: Exception) -> None:
    assert err(call(ENV, rec=Recorder(raises=exc))) == (999, str(exc), "")


@pytest.mark.parametrize("exc, text", [(TypeError("oops"), "TypeError: oops"), (KeyError("gateway"), "KeyError: 'gateway'")])
def test_a_bug_in_a_callback_is_code_999_with_the_trace_on_stderr_only(
        exc: Exception, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A mistyped key is a bug too: it is not passed off as an ordinary plugin error.
    o = call(ENV, rec=Recorder(raises=exc))
    assert err(o) == (999, text, "")
    assert "Traceback" not in o.stdout()
    stderr = capsys.readouterr().err
    assert "internal error" in stderr and "Traceback" in stderr


def test_error_json_omits_empty_details_and_has_no_trailing_newline() -> None:
    assert call({"CNI_COMMAND": "NOPE"}, b'{"name":"n"}').stdout() == (
        '{\n    "code": 4,\n    "msg": "unknown CNI_COMMAND: NOPE"\n}')


def test_del_and_check_print_nothing_on_success() -> None:
    for command in ("DEL", "CHECK"):
        o = call(env(command=command))
        assert o.error is None and o.stdout() == ""


# --- 6. the netns self-check -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_netns_that_is_the_plugins_own_is_code_8_after_the_callback(command: str) -> None:
    rec = Recorder(result={"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]})
    o = call(env(command=command), CONF, rec, same_netns=lambda path: path == "/some/where")
    assert err(o) == (8, "plugin's netns and netns from CNI_NETNS should not be the same", "")
    assert rec.calls == [command.lower()]
    if command == "ADD":  # the result was already printed, the error follows it
        assert o.stdout().startswith('{\n    "cniVersion": "1.0.0"') and o.stdout().endswith(
            '"msg": "plugin\'s netns and netns from CNI_NETNS should not be the same"\n}')


@pytest.mark.parametrize("override", ["1", "true", "TRUE", "True"])
def test_netns_override_skips_the_self_check(override: str) -> None:
    o = call(env(netns_override=override), CONF, Recorder(result={"cniVersion": "1.1.0"}), same_netns=lambda p: True)
    assert o.error is None


def test_netns_self_check_is_not_done_for_check() -> None:
    assert call(env(command="CHECK"), CONF, same_netns=lambda p: True).error is None


def test_real_netns_probe_matches_own_netns_and_ignores_unopenable_paths() -> None:
    if not os.path.exists("/proc/self/ns/net"):
        pytest.skip("no /proc/self/ns/net")
    assert skel.same_netns("/proc/self/ns/net") is True
    assert skel.same_netns("/some/where") is False
    assert skel.same_netns("") is False


# --- 7. helpers and the executable ------------------------------------------------------------


@pytest.mark.parametrize("stdin, version", [({}, "0.1.0"), ({"cniVersion": ""}, "0.1.0"), ({"cniVersion": "1.0"}, "1.0"),
                                            ({"CNIVersion": "0.4.0"}, "0.4.0")])
def test_decode_config_version(stdin: dict, version: str) -> None:
    assert skel.decode_config_version(stdin) == version


def _launcher(tmp_path) -> str:  # noqa: ANN001
    from pycni.cli.install import install

    install(str(tmp_path))
    return str(tmp_path / "static")


def test_executable_with_closed_stdin_is_code_5(tmp_path) -> None:  # noqa: ANN001
    exe = _launcher(tmp_path)
    p = subprocess.run(["/bin/sh", "-c", 'exec "$0" <&-', exe], env=ENV, capture_output=True, text=True)
    assert p.returncode == 1
    assert json.loads(p.stdout) == {"code": 5, "msg": "error reading from stdin: read /dev/stdin: bad file descriptor"}


def test_executable_never_prints_a_traceback_for_odd_bytes(tmp_path) -> None:  # noqa: ANN001
    exe = _launcher(tmp_path)
    e = dict(ENV, CNI_CONTAINERID="a\udcff")
    p = subprocess.run([exe], env=e, input=b'{"name":"n"}', capture_output=True)
    assert p.returncode == 1 and b"Traceback" not in p.stderr
    assert json.loads(p.stdout)["details"] == "a\ufffd"
    stdin = b'{"cniVersion":"1.0.0","name":"n","ipam":{"type":"static","dns":{"domain":"a\\ud800b"}}}'
    p = subprocess.run([exe], env=ENV, input=stdin, capture_output=True)
    assert p.returncode == 0 and json.loads(p.stdout)["dns"] == {"domain": "a\ufffdb"}


def test_plugin_start_imports_no_heavy_modules() -> None:
    src = os.path.dirname(os.path.dirname(os.path.abspath(skel.__file__)))
    code = (f"import sys; sys.path.insert(0, {src!r}); import pycni.plugins.ipam.static, pycni.invoke; "
            "import pycni.spec.result, pycni.spec.netconf, pycni.spec.args; "
            "print(' '.join(m for m in ('json', 're', 'typing', 'dataclasses', 'ipaddress', 'subprocess') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
