"""Running another plugin the way the reference library does: find it on CNI_PATH, exec it.

Used for IPAM delegation (and by the runtime side). When the executable found is one of pycni's
own launchers, the plugin runs in-process through skel.run() with the same stdin and environment:
same inputs, same answer, one interpreter start saved. Errors carry the delegate's CNI code.
"""

from __future__ import annotations

import os
import sys
import time

from pycni import skel
from pycni.gofmt import errno_text, exit_text, q
from pycni.linux import spawn
from pycni.plugins.registry import PLUGINS
from pycni.spec import errors as E
from pycni.spec import gojson
from pycni.spec import result as R
from pycni.spec.errors import CNIError
from pycni.spec.godecode import STRING, UINT, DecodeError, Struct, decode_struct, json_kind
from pycni.spec.netconf import as_go_any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

LAUNCHER_MARK = b"# pycni-plugin: "


def find_in_path(plugin: str, paths: list[str]) -> str:
    """FindInPath: the first regular file <dir>/<plugin> (symlinks followed, exec bit not checked)."""
    if plugin == "":
        raise CNIError(E.INTERNAL, "no plugin name provided")
    if "/" in plugin:
        raise CNIError(E.INTERNAL, f"invalid plugin name: {plugin}")
    if not paths:
        raise CNIError(E.INTERNAL, "no paths provided")
    for d in paths:
        full = os.path.join(d, plugin)
        try:
            if os.path.isfile(full):
                return full
        except OSError:
            continue
    raise CNIError(E.INTERNAL, f'failed to find plugin {q(plugin)} in path [{" ".join(paths)}]')


def split_path(cni_path: str) -> list[str]:
    # Go's filepath.SplitList: "" is no entries; empty elements are kept.
    return cni_path.split(os.pathsep) if cni_path else []


def _own_module(path: str) -> str | None:
    """The module name if `path` is a pycni launcher for a registered plugin."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    at = head.find(LAUNCHER_MARK)
    if at < 0:
        return None
    name = head[at + len(LAUNCHER_MARK):].split(b"\n", 1)[0].strip().decode("ascii", "replace")
    return name if name in PLUGINS.values() else None


def _run_in_process(module: str, env: dict[str, str], stdin: bytes) -> tuple[R.Result | None, CNIError | None]:
    plugin = __import__(module, fromlist=["PLUGIN"]).PLUGIN  # importlib would be another import
    outcome = skel.run(plugin, env, stdin, skel.same_netns)
    if outcome.stderr:
        sys.stderr.write(outcome.stderr)
    return outcome.result, outcome.error


def _exec(path: str, env: dict[str, str], stdin: bytes) -> tuple[int, bytes, bytes]:
    for attempt in range(6):
        try:
            rc, out, err = spawn.run_bytes([path], stdin, env)
            break
        except OSError as exc:
            if exc.errno == 26 and attempt < 5:  # ETXTBSY: the binary is still being written
                time.sleep(1)
                continue
            # RawExec.pluginErr: a plugin that could not be started is a code-0 error
            why = errno_text(exc)
            raise CNIError(E.UNKNOWN, f"netplugin failed with no error message: fork/exec {path}: {why}") from None
    if rc == 0 and err:
        sys.stderr.write(err.decode("utf-8", "replace"))
    return rc, out, err


def _error_from_output(rc: int, stdout: bytes, stderr: bytes) -> CNIError:
    """RawExec.pluginErr: the delegate's error object from stdout, else a code-0 error saying why not."""
    exit_err = exit_text(rc)
    if not stdout:
        if not stderr:
            return CNIError(E.UNKNOWN, f"netplugin failed with no error message: {exit_err}")
        return CNIError(E.UNKNOWN, f"netplugin failed: {q(stderr.decode('utf-8', 'replace'))}: {exit_err}")
    try:
        obj = gojson.loads(stdout)
        err = decode_struct(obj, Struct("Error", [("code", UINT), ("msg", STRING), ("details", STRING)], "types.Error"))
    except (gojson.JSONSyntaxError, DecodeError) as exc:
        text = stdout.decode("utf-8", "replace")
        return CNIError(E.UNKNOWN, f"netplugin failed but error parsing its diagnostic message {q(text)}: {exc}")
    return CNIError(err.get("code", 0), err.get("msg", ""), err.get("details", ""))


def _result_from_stdout(stdout: bytes, netconf: Any) -> R.Result:
    """ExecPluginWithResult: missing/empty cniVersion takes the config's, then parse in that family."""

    conf_version = skel.decode_config_version(netconf)
    try:
        raw = gojson.loads(stdout)
    except gojson.JSONSyntaxError as exc:
        raise CNIError(E.INTERNAL, f"failed to unmarshal raw result: {exc}") from None
    if raw is None:  # "null" is an empty result
        raw = {}
    if not isinstance(raw, dict):
        raise CNIError(E.INTERNAL, f"failed to unmarshal raw result: json: cannot unmarshal {json_kind(raw)} "
                                   "into Go value of type map[string]interface {}")
    version = raw.get("cniVersion")
    if not isinstance(version, str) or version == "":
        # fixupResultVersion: the config's version, and the result re-marshalled from a Go map
        version = conf_version
        raw = as_go_any(raw)
        raw["cniVersion"] = version
    try:
        return R.parse(raw, version)
    except R.ResultError as exc:
        raise CNIError(E.INTERNAL, str(exc)) from None


def delegate(plugin: str, command: str, stdin: bytes, env: Mapping[str, str], netconf: Any = None) -> R.Result | None:
    """Run `plugin` with CNI_COMMAND=`command` (ADD returns its result; others return None).

    The delegate gets the caller's whole environment with only CNI_COMMAND replaced, and the
    caller's stdin bytes unchanged. Its CNIError is raised as it is (code kept).
    """
    path = find_in_path(plugin, split_path(env.get("CNI_PATH", "")))
    child_env = dict(env)
    child_env["CNI_COMMAND"] = command
    module = _own_module(path)
    if module is not None:
        result, err = _run_in_process(module, child_env, stdin)
        if err is not None:
            raise err
        return result if command == "ADD" else None
    rc, out, errout = _exec(path, child_env, stdin)
    if rc != 0:
        raise _error_from_output(rc, out, errout)
    if command != "ADD":
        return None
    return _result_from_stdout(out, netconf if netconf is not None else gojson.loads(stdin))


def ipam_add(ipam_type: str, args: Any) -> R.Result:
    """ExecAdd for a plugin's CmdArgs; the result converted to 1.1.0 (NewResultFromResult)."""
    res = delegate(ipam_type, "ADD", args.stdin, args.env, args.conf)
    if res is None:
        res = {"cniVersion": "1.1.0"}
    try:
        return R.convert(res, "1.1.0")
    except R.ResultError as exc:
        raise CNIError(E.INTERNAL, str(exc)) from None


def ipam_call(ipam_type: str, command: str, args: Any) -> None:
    """ExecDel / ExecCheck / ExecStatus / GC for a plugin's CmdArgs."""
    delegate(ipam_type, command, args.stdin, args.env, args.conf)
