"""Running a network's plugin chain as a runtime does (libcni's CNIConfig), for one attachment.

ADD runs the plugins in order, each getting the previous one's result as prevResult (no
conversion between plugins), then caches the final result. DEL runs them in reverse with the
cached result and drops the cache entry only when every plugin succeeded. CHECK runs forward
with the cached result. GC DELs the cached attachments that are no longer valid, then (1.1.0+)
sends GC to every plugin; STATUS (1.1.0+) asks every plugin in order. Errors carry libcni's
text; a plugin's own CNI error stays reachable as `.cause`.

Plugins are executed as child processes (environment: ours plus the six CNI_* variables). With
`in_process=True`, a pycni launcher found on the path runs inside this interpreter instead.
"""

from __future__ import annotations

import os

from pycni import invoke
from pycni.gofmt import q
from pycni.invoke import find_in_path
from pycni.runtime import cache
from pycni.runtime.conf import NetworkConfigList, PluginConfig, inject_conf
from pycni.runtime.errors import CNIRuntimeError, join, wrap
from pycni.runtime.gomarshal import Ordered, RawJSON
from pycni.skel import valid_name, validate_container_id, validate_ifname
from pycni.spec import errors as E
from pycni.spec import gojson
from pycni.spec import result as R
from pycni.spec.errors import CNIError
from pycni.spec.version import CURRENT, VersionError, at_least

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping


class RuntimeConf:
    """One attachment's runtime arguments (libcni.RuntimeConf)."""

    __slots__ = ("container_id", "netns", "ifname", "args", "capability_args", "cache_dir")

    def __init__(self, container_id: str = "", netns: str = "", ifname: str = "",
                 args: list[tuple[str, str]] | None = None, capability_args: dict[str, Any] | None = None,
                 cache_dir: str = "") -> None:
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = [(a[0], a[1]) for a in args] if args is not None else None
        self.capability_args = capability_args
        self.cache_dir = cache_dir  # deprecated in libcni; CNIRuntime's cache_dir wins

    def copy(self) -> RuntimeConf:
        return RuntimeConf(self.container_id, self.netns, self.ifname, self.args, self.capability_args,
                           self.cache_dir)

    def __repr__(self) -> str:
        return (f"RuntimeConf(container_id={self.container_id!r}, netns={self.netns!r}, ifname={self.ifname!r}, "
                f"args={self.args!r}, capability_args={self.capability_args!r})")


class NetworkAttachment:
    """A cached attachment (libcni.NetworkAttachment)."""

    __slots__ = ("container_id", "network", "ifname", "config", "netns", "cni_args", "capability_args")

    def __init__(self, info: cache.CachedInfo) -> None:
        self.container_id = info.container_id
        self.network = info.network_name
        self.ifname = info.ifname
        self.config = info.config
        self.netns = info.netns
        self.cni_args = info.cni_args
        self.capability_args = info.capability_args

    def __repr__(self) -> str:
        return f"NetworkAttachment({self.network!r}, {self.container_id!r}, {self.ifname!r})"


def describe(plugin: PluginConfig) -> str:
    """pluginDescription: type="t" and, when the plugin object has one, name="n"."""
    out = f"type={q(plugin.type)}"
    if plugin.name:
        out += f" name={q(plugin.name)}"
    return out


def _at_least(version: str, minimum: str) -> bool:
    try:
        return at_least(version, minimum)
    except VersionError as exc:
        raise CNIRuntimeError(str(exc)) from None


class CNIRuntime:
    """libcni's CNIConfig: plugin search path, cache directory, and the chain operations."""

    def __init__(self, paths: list[str] | None = None, cache_dir: str = "", *,
                 env: Mapping[str, str] | None = None, in_process: bool = False) -> None:
        self.paths = list(paths or [])
        self.cache_dir = cache_dir
        self.env = env
        self.in_process = in_process

    # --- plumbing ----------------------------------------------------------------------------

    def get_cache_dir(self, rt: RuntimeConf | None = None) -> str:
        if self.cache_dir:
            return self.cache_dir
        if rt is not None and rt.cache_dir:
            return rt.cache_dir
        return cache.DEFAULT_CACHE_DIR

    def _cache_path(self, network: str, rt: RuntimeConf) -> str:
        return cache.file_path(self.get_cache_dir(rt), network, rt.container_id, rt.ifname)

    def find(self, plugin_type: str) -> str:
        """FindInPath over this runtime's paths (a plain error, no CNI code)."""
        try:
            return find_in_path(plugin_type, self.paths)
        except CNIError as exc:
            raise CNIRuntimeError(exc.msg) from None

    def plugin_env(self, command: str, rt: RuntimeConf | None) -> dict[str, str]:
        """Args.AsEnv: our environment, then all six CNI_* variables (empty when not applicable)."""
        env = dict(os.environ if self.env is None else self.env)
        rt = rt or RuntimeConf()
        env["CNI_COMMAND"] = command
        env["CNI_CONTAINERID"] = rt.container_id
        env["CNI_NETNS"] = rt.netns
        env["CNI_ARGS"] = ";".join(f"{k}={v}" for k, v in (rt.args or []))
        env["CNI_IFNAME"] = rt.ifname
        env["CNI_PATH"] = os.pathsep.join(self.paths)
        return env

    def exec_plugin(self, path: str, stdin: bytes, env: dict[str, str], cni_version: str | None = None) -> Any:
        """Run one plugin; with `cni_version` (ADD) parse and return its result, else return None.

        A plugin's failure raises its CNIError (code kept); a result that cannot be parsed raises
        CNIRuntimeError, as libcni's ExecPluginWithResult.
        """
        if self.in_process:
            module = invoke._own_module(path)
            if module is not None:
                result, err = invoke._run_in_process(module, env, stdin)
                if err is not None:
                    raise err
                if cni_version is None:
                    return None
                return result if result is not None else {"cniVersion": cni_version or "0.1.0"}
        out = self._exec_raw(path, stdin, env)
        if cni_version is None:
            return None
        try:
            return invoke._result_from_stdout(out, {"cniVersion": cni_version})
        except CNIError as exc:
            raise CNIRuntimeError(exc.msg) from None

    def build_config(self, name: str, cni_version: str, plugin: PluginConfig, prev_result: R.Result | None,
                     rt: RuntimeConf | None) -> PluginConfig:
        """buildOneConfig: name/cniVersion (and prevResult) injected, then runtimeConfig from capabilities."""
        inject: dict[str, Any] = {"name": name, "cniVersion": cni_version}
        if prev_result is not None:
            inject["prevResult"] = RawJSON(gojson.dumps(R.to_json_obj(prev_result), None))
        conf = inject_conf(plugin, inject)
        if rt is None:
            return conf
        supplied = rt.capability_args or {}
        rc = {cap: supplied[cap] for cap, enabled in conf.capabilities.items() if enabled and cap in supplied}
        if rc:
            conf = inject_conf(conf, {"runtimeConfig": rc})
        return conf

    # --- ADD / CHECK / DEL -------------------------------------------------------------------

    def _add_network(self, name: str, cni_version: str, plugin: PluginConfig, prev: R.Result | None,
                     rt: RuntimeConf) -> R.Result:
        path = self.find(plugin.type)
        validate_container_id(rt.container_id)
        if name == "":
            raise CNIError(E.INVALID_NETWORK_CONFIG, "missing network name:")
        if not valid_name(name):
            raise CNIError(E.INVALID_NETWORK_CONFIG, "invalid characters found in network name", name)
        validate_ifname(rt.ifname)
        conf = self.build_config(name, cni_version, plugin, prev, rt)
        return self.exec_plugin(path, conf.data, self.plugin_env("ADD", rt), cni_version)

    def add_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> R.Result | None:
        """AddNetworkList: the chain's final result (a pycni result dict, in the last plugin's version;
        None only for a list without plugins)."""
        result: R.Result | None = None
        for plugin in net.plugins:
            try:
                result = self._add_network(net.name, net.cni_version, plugin, result, rt)
            except (CNIError, CNIRuntimeError) as exc:
                raise wrap(f"plugin {describe(plugin)} failed (add)", exc) from None
        try:
            self._cache_add(result, net, rt)
        except (OSError, CNIRuntimeError) as exc:
            raise wrap(f'failed to set network "{net.name}" cached result', exc) from None
        return result

    def _cache_add(self, result: R.Result | None, net: NetworkConfigList, rt: RuntimeConf) -> None:
        obj = R.to_json_obj(result) if result is not None else None
        text = cache.encode(obj, net.data, net.name, rt.container_id, rt.ifname, rt.netns, rt.args, rt.capability_args)
        cache.write_atomic(self._cache_path(net.name, rt), text)

    def get_network_list_cached_result(self, net: NetworkConfigList, rt: RuntimeConf) -> R.Result | None:
        """The cached ADD result converted to the list's version; None when there is none."""
        return cache.cached_result(self._cache_path(net.name, rt), net.cni_version)

    def get_network_list_cached_config(self, net: NetworkConfigList, rt: RuntimeConf
                                       ) -> tuple[bytes | None, RuntimeConf | None]:
        """The cached config bytes and a copy of `rt` with the cached CNI args and capability args."""
        info = cache.cached_config(self._cache_path(net.name, rt), net.name)
        if info is None:
            return None, None
        new = rt.copy()
        if info.cni_args is not None:
            new.args = list(info.cni_args)
        new.capability_args = info.capability_args
        return info.config, new

    def check_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """CheckNetworkList: version gate (0.4.0) before disableCheck, then forward with the cache."""
        if not _at_least(net.cni_version, "0.4.0"):
            raise CNIRuntimeError(f"configuration version {q(net.cni_version)} does not support the "
                                  "CHECK command")
        if net.disable_check:
            return
        try:
            cached = self.get_network_list_cached_result(net, rt)
        except CNIRuntimeError as exc:
            raise wrap(f'failed to get network "{net.name}" cached result', exc) from None
        for plugin in net.plugins:
            path = self.find(plugin.type)
            conf = self.build_config(net.name, net.cni_version, plugin, cached, rt)
            try:
                self.exec_plugin(path, conf.data, self.plugin_env("CHECK", rt))
            except CNIError as exc:
                raise CNIRuntimeError(str(exc), exc) from None

    def del_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """DelNetworkList: reverse order with the cached result; the cache goes only after success."""
        cached = None
        if _at_least(net.cni_version, "0.4.0"):
            try:
                cached = self.get_network_list_cached_result(net, rt)
            except CNIRuntimeError:
                self._cache_del(net.name, rt)
                cached = None
        for plugin in reversed(net.plugins):
            try:
                path = self.find(plugin.type)
                conf = self.build_config(net.name, net.cni_version, plugin, cached, rt)
                self.exec_plugin(path, conf.data, self.plugin_env("DEL", rt))
            except (CNIError, CNIRuntimeError) as exc:
                raise wrap(f"plugin {describe(plugin)} failed (delete)", exc) from None
        self._cache_del(net.name, rt)

    def _cache_del(self, network: str, rt: RuntimeConf) -> None:
        try:
            cache.remove(self._cache_path(network, rt))
        except CNIRuntimeError:
            pass

    # --- GC / STATUS / VERSION -----------------------------------------------------------------

    def get_cached_attachments(self, container_id: str = "") -> list[NetworkAttachment]:
        """GetCachedAttachments: every cached attachment, or those of one container."""
        return [NetworkAttachment(i) for i in cache.attachments(self.get_cache_dir(), container_id)]

    def gc_network_list(self, net: NetworkConfigList,
                        valid_attachments: list[tuple[str, str]] | None = None) -> None:
        """GCNetworkList. `valid_attachments`: (containerID, ifname) pairs to keep; None = keep none
        and send no attachment list (libcni's nil GCArgs). Errors are collected and raised together.
        """
        if net.disable_gc:
            return
        try:
            cached = self.get_cached_attachments("")
        except OSError:
            return
        keep = None if valid_attachments is None else {(c, i) for c, i in valid_attachments}
        errs: list[CNIRuntimeError] = []
        for att in cached:
            if att.network != net.name:
                continue
            if keep is not None and (att.container_id, att.ifname) in keep:
                continue
            rt = RuntimeConf(att.container_id, att.netns, att.ifname, att.cni_args, att.capability_args)
            try:
                self.del_network_list(net, rt)
            except CNIRuntimeError as exc:
                errs.append(wrap(f"failed to delete stale attachment {rt.container_id} {rt.ifname}", exc))
        if _at_least_quiet(net.cni_version, "1.1.0"):
            inject: dict[str, Any] = {"name": net.name, "cniVersion": net.cni_version}
            if valid_attachments is not None:
                items = [Ordered(containerID=c, ifname=i) for c, i in valid_attachments]
                inject["cni.dev/valid-attachments"] = items
                inject["cni.dev/attachments"] = items  # the name the 1.1.0 spec text used
            for plugin in net.plugins:
                try:
                    conf = inject_conf(plugin, inject)
                except CNIRuntimeError as exc:
                    errs.append(wrap(f"failed to generate configuration to GC plugin {plugin.type}", exc))
                    continue
                try:
                    self.exec_plugin(self.find(plugin.type), conf.data, self.plugin_env("GC", None))
                except (CNIError, CNIRuntimeError) as exc:
                    errs.append(wrap(f"failed to GC plugin {plugin.type}", exc))
        err = join(errs)
        if err is not None:
            raise err

    def get_status_network_list(self, net: NetworkConfigList) -> None:
        """GetStatusNetworkList: nothing below 1.1.0; else STATUS to each plugin, first error as is."""
        if not _at_least_quiet(net.cni_version, "1.1.0"):
            return
        inject = {"name": net.name, "cniVersion": net.cni_version}
        for plugin in net.plugins:
            try:
                conf = inject_conf(plugin, inject)
            except CNIRuntimeError as exc:
                raise wrap(f"failed to generate configuration to get plugin STATUS {plugin.type}", exc) from None
            try:
                self.exec_plugin(self.find(plugin.type), conf.data, self.plugin_env("STATUS", None))
            except CNIError as exc:
                raise CNIRuntimeError(str(exc), exc) from None

    status_network_list = get_status_network_list

    def get_version_info(self, plugin_type: str) -> list[str]:
        """GetVersionInfo: the plugin's supportedVersions (VERSION with netns/ifname/path "dummy")."""
        path = self.find(plugin_type)
        env = self.plugin_env("VERSION", RuntimeConf(netns="dummy", ifname="dummy"))
        env["CNI_PATH"] = "dummy"
        try:
            out = self._exec_raw(path, f'{{"cniVersion":"{CURRENT}"}}'.encode(), env)
        except CNIError as exc:
            if str(exc) == "unknown CNI_COMMAND: VERSION":
                return ["0.1.0"]
            raise CNIRuntimeError(str(exc), exc) from None
        try:
            info = gojson.loads(out)
        except gojson.JSONSyntaxError as exc:
            raise CNIRuntimeError(f"decoding version info: {exc}") from None
        if not isinstance(info, dict):
            info = {}
        version = info.get("cniVersion")
        versions = info.get("supportedVersions")
        if not isinstance(version, str) or version == "":
            raise CNIRuntimeError("decoding version info: missing field cniVersion")
        if not isinstance(versions, list) or not versions:
            if version == "0.2.0":
                return ["0.1.0", "0.2.0"]
            raise CNIRuntimeError("decoding version info: missing field supportedVersions")
        return [str(v) for v in versions]

    def _exec_raw(self, path: str, stdin: bytes, env: dict[str, str]) -> bytes:
        try:
            rc, out, errout = invoke._exec(path, env, stdin)
        except CNIError as exc:  # it could not be started
            raise CNIError(0, f"netplugin failed with no error message: {exc.msg}") from None
        if rc != 0:
            raise invoke._error_from_output(rc, out, errout)
        return out

    def validate_network_list(self, net: NetworkConfigList) -> list[str]:
        """ValidateNetworkList: every plugin found and supporting the list's version (errors
        aggregated); returns the enabled capabilities of the chain, sorted."""
        version = net.cni_version or "0.1.0"
        errs: list[str] = []
        caps: set[str] = set()
        for plugin in net.plugins:
            try:
                if version not in self.get_version_info(plugin.type):
                    errs.append(f"plugin {plugin.type} does not support config version {q(version)}")
            except CNIRuntimeError as exc:
                errs.append(str(exc))
            caps.update(c for c, on in plugin.capabilities.items() if on)
        if errs:
            raise CNIRuntimeError("[" + " ".join(errs) + "]")
        return sorted(caps)


def _at_least_quiet(version: str, minimum: str) -> bool:
    # libcni ignores the parse error in the GC and STATUS gates (an unparsable version is "no").
    try:
        return at_least(version, minimum)
    except VersionError:
        return False
