"""pycni.invoke: finding a delegate on CNI_PATH, running it (in-process for pycni's own launchers,
exec otherwise) and reading its answer as pkg/invoke does (cni-spec-checklist P-IO-06, R-FIND-01,
R-ADD-04, P-DLG-03)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from pycni import invoke, skel
from pycni.spec.errors import CNIError

CONF = {"cniVersion": "1.0.0", "name": "mynet", "type": "ptp",
        "ipam": {"type": "static", "addresses": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}]}}
SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/some/where", "CNI_IFNAME": "eth0"}


def script(directory, name: str, body: str) -> str:  # noqa: ANN001
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_find_in_path_errors() -> None:
    with pytest.raises(CNIError, match="^no plugin name provided$"):
        invoke.find_in_path("", ["/x"])
    with pytest.raises(CNIError, match="^invalid plugin name: a/b$"):
        invoke.find_in_path("a/b", ["/x"])
    with pytest.raises(CNIError, match="^no paths provided$"):
        invoke.find_in_path("static", [])
    with pytest.raises(CNIError) as exc:
        invoke.find_in_path("nope", ["/nonexistent/a", "/nonexistent/b"])
    assert exc.value.msg == 'failed to find plugin "nope" in path [/nonexistent/a /nonexistent/b]'


def test_find_in_path_takes_the_first_regular_file_and_ignores_the_exec_bit(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "plug").mkdir()  # a directory is not a plugin
    (tmp_path / "b" / "plug").write_text("")
    assert invoke.find_in_path("plug", [str(tmp_path / "a"), str(tmp_path / "b")]) == str(tmp_path / "b" / "plug")


def test_split_path_is_go_split_list() -> None:
    assert invoke.split_path("") == []
    assert invoke.split_path("/a:/b") == ["/a", "/b"]
    assert invoke.split_path("/a::/b") == ["/a", "", "/b"]


@pytest.mark.parametrize(
    "rc, stdout, stderr, code, msg",
    [
        (1, b'{"code":7,"msg":"bad","details":"d"}', b"", 7, "bad"),
        (1, b'{"code":7,"msg":"bad","cniVersion":"1.0.0"}', b"", 7, "bad"),  # unknown keys are ignored
        (1, b"null", b"", 0, ""),
        (1, b"not json", b"", 0, 'netplugin failed but error parsing its diagnostic message "not json": '
                                 "invalid character 'o' in literal null (expecting 'u')"),
        (1, b'{"code":"x"}', b"", 0, 'netplugin failed but error parsing its diagnostic message "{\\"code\\":\\"x\\"}": '
                                     "json: cannot unmarshal string into Go struct field Error.code of type uint"),
        (2, b"", b"", 0, "netplugin failed with no error message: exit status 2"),
        (-9, b"", b"", 0, "netplugin failed with no error message: signal: killed"),
        (-11, b"", b"", 0, "netplugin failed with no error message: signal: segmentation fault"),
        (1, b"", b"boom", 0, 'netplugin failed: "boom": exit status 1'),
    ],
)
def test_error_from_output_reads_the_delegates_answer_like_plugin_err(rc: int, stdout: bytes, stderr: bytes, code: int,
                                                                      msg: str) -> None:
    e = invoke._error_from_output(rc, stdout, stderr)
    assert (e.code, e.msg) == (code, msg)


@pytest.mark.parametrize(
    "stdout, version",
    [
        (b'{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}]}', "0.4.0"),
        (b'{"ips":[{"address":"10.0.0.2/24"}]}', "1.0.0"),  # E22: no version takes the config's
        (b'{"cniVersion":"","ips":[{"address":"10.0.0.2/24"}]}', "1.0.0"),
        (b'{"cniVersion":5,"ips":[{"address":"10.0.0.2/24"}]}', "1.0.0"),  # not a string: the config's too
        (b"null", "1.0.0"),  # null is an empty result
    ],
)
def test_result_from_stdout_fixes_up_the_version(stdout: bytes, version: str) -> None:
    r = invoke._result_from_stdout(stdout, {"cniVersion": "1.0.0"})
    assert r["cniVersion"] == version


@pytest.mark.parametrize(
    "stdout, message",
    [
        (b'log line\n{"cniVersion":"1.0.0"}', "failed to unmarshal raw result: invalid character 'l' looking for "
                                             "beginning of value"),  # E21
        (b"", "failed to unmarshal raw result: unexpected end of JSON input"),
        (b"[1]", "failed to unmarshal raw result: json: cannot unmarshal array into Go value of type "
                 "map[string]interface {}"),
        (b'{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2"}]}', "invalid CIDR address: 10.0.0.2"),  # E23
        (b'{"cniVersion":"9.9.9"}', 'unsupported CNI result version "9.9.9"'),
    ],
)
def test_result_from_stdout_errors(stdout: bytes, message: str) -> None:
    with pytest.raises(CNIError) as exc:
        invoke._result_from_stdout(stdout, {"cniVersion": "1.0.0"})
    assert exc.value.msg == message


def test_delegate_to_pycnis_own_static_runs_in_process_with_the_callers_env(tmp_path) -> None:  # noqa: ANN001
    from pycni.cli.install import install

    install(str(tmp_path))
    env = dict(ENV, CNI_PATH=str(tmp_path), CNI_COMMAND="ADD")
    result = invoke.delegate("static", "ADD", json.dumps(CONF).encode(), env)
    assert result is not None and result["ips"] == [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}]
    assert result["cniVersion"] == "1.0.0"  # in the config's version
    assert invoke.delegate("static", "DEL", json.dumps(CONF).encode(), env) is None


def test_delegate_errors_keep_the_delegates_code(tmp_path) -> None:  # noqa: ANN001
    from pycni.cli.install import install

    install(str(tmp_path))
    env = dict(ENV, CNI_PATH=str(tmp_path))
    bad = dict(CONF, ipam={"type": "static", "addresses": [{"address": "x"}]})
    with pytest.raises(CNIError) as exc:
        invoke.delegate("static", "ADD", json.dumps(bad).encode(), env)
    assert (exc.value.code, exc.value.msg) == (999, "the 'address' field is expected to be in CIDR notation, got: 'x'")


def test_delegate_execs_foreign_plugins_with_only_the_command_replaced(tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "seen"
    script(tmp_path, "fake", f'env > {out}\ncat > {out}.stdin\necho \'{{"cniVersion":"1.0.0","ips":[{{"address":"10.9.0.2/24"}}]}}\'\n')
    env = dict(ENV, CNI_PATH=str(tmp_path), CNI_COMMAND="ADD", EXTRA="kept")
    result = invoke.delegate("fake", "CHECK", b'{"cniVersion":"1.0.0","name":"n"}', env)
    assert result is None  # only ADD returns a result
    seen = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert seen["CNI_COMMAND"] == "CHECK" and seen["EXTRA"] == "kept" and seen["CNI_IFNAME"] == "eth0"
    assert (tmp_path / "seen.stdin").read_bytes() == b'{"cniVersion":"1.0.0","name":"n"}'
    result = invoke.delegate("fake", "ADD", b'{"cniVersion":"1.0.0","name":"n"}', env)
    assert result == {"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.2/24"}], "dns": {}}


def test_delegate_that_cannot_start_is_a_code_0_error(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "broken").write_text("not a program")
    os.chmod(tmp_path / "broken", 0o755)
    with pytest.raises(CNIError) as exc:
        invoke.delegate("broken", "ADD", b"{}", dict(ENV, CNI_PATH=str(tmp_path)))
    assert exc.value.code == 0
    assert exc.value.msg.startswith(f"netplugin failed with no error message: fork/exec {tmp_path}/broken: ")


@pytest.mark.skipif(not os.access("/usr/lib/cni/static", os.X_OK), reason="reference plugins not installed")
def test_delegate_to_the_reference_static_gives_the_same_result_as_pycnis(tmp_path) -> None:  # noqa: ANN001
    from pycni.cli.install import install

    install(str(tmp_path))
    stdin = json.dumps(CONF).encode()
    ours = invoke.delegate("static", "ADD", stdin, dict(ENV, CNI_PATH=str(tmp_path)))
    theirs = invoke.delegate("static", "ADD", stdin, dict(ENV, CNI_PATH="/usr/lib/cni"))
    assert ours == theirs


def test_ipam_add_converts_to_1_1_0(tmp_path) -> None:  # noqa: ANN001
    from pycni.cli.install import install

    install(str(tmp_path))
    stdin = json.dumps(dict(CONF, cniVersion="0.3.1")).encode()
    args = skel.CmdArgs("ADD", "c1", "/some/where", "eth0", "", str(tmp_path), stdin,
                        dict(ENV, CNI_PATH=str(tmp_path)), json.loads(stdin))
    r = invoke.ipam_add("static", args)
    assert r["cniVersion"] == "1.1.0" and r["ips"] == [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}]


def test_a_foreign_delegate_is_spawned_without_subprocess(tmp_path) -> None:  # noqa: ANN001
    script(tmp_path, "fake", "cat >/dev/null\necho '{\"cniVersion\":\"1.0.0\"}'\n")
    code = ("import sys, json; from pycni import invoke; "
            f"invoke.delegate('fake', 'DEL', b'{{}}', dict(CNI_PATH={str(tmp_path)!r}, CNI_COMMAND='DEL')); "
            "print(json.dumps(sorted(m for m in ('subprocess', 'selectors', 'threading') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {SRC!r}); " + code],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_delegate_without_exec_permission_or_killed_reads_as_go_does(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "noexec").write_text("#!/bin/sh\n")
    with pytest.raises(CNIError) as exc:
        invoke.delegate("noexec", "ADD", b"{}", dict(ENV, CNI_PATH=str(tmp_path)))
    assert exc.value.msg == f"netplugin failed with no error message: fork/exec {tmp_path}/noexec: permission denied"
    script(tmp_path, "killed", "kill -9 $$\n")
    with pytest.raises(CNIError) as exc:
        invoke.delegate("killed", "ADD", b"{}", dict(ENV, CNI_PATH=str(tmp_path)))
    assert (exc.value.code, exc.value.msg) == (0, "netplugin failed with no error message: signal: killed")
