"""Finding and parsing network configurations, with libcni's rules, order and error text.

`load_network(dir, name)` is LoadNetworkConf: `*.conflist` first (sorted; the first with the
name wins, and any file that fails to parse before it aborts the load), then the deprecated
single-plugin `*.conf`/`*.json` files, wrapped as a one-plugin list. A list may gain plugin
objects from `<dir>/<name>/*.conf` unless `loadOnlyInlinedPlugins`. `inject_conf` builds what a
plugin reads on stdin. No plugin is run here; the only I/O is reading configuration files.
"""

from __future__ import annotations

import os

from pycni.gofmt import q
from pycni.runtime.errors import ConfigError, NoConfigsFoundError, NotFoundError
from pycni.runtime.gomarshal import MarshalError, go_any, go_type_name, marshal
from pycni.spec import gojson
from pycni.spec.godecode import DecodeError, json_kind
from pycni.spec.netconf import load_netconf
from pycni.spec.version import CURRENT, VersionError
from pycni.spec.version import parse as parse_version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class PluginConfig:
    """One plugin object: `network` is its types.PluginConf view, `data` the JSON bytes as held."""

    __slots__ = ("network", "data")

    def __init__(self, network: dict[str, Any], data: bytes) -> None:
        self.network = network
        self.data = data

    @property
    def type(self) -> str:
        return self.network.get("type", "")

    @property
    def name(self) -> str:
        return self.network.get("name", "")

    @property
    def cni_version(self) -> str:
        return self.network.get("cniVersion", "")

    @property
    def capabilities(self) -> dict[str, bool]:
        return self.network.get("capabilities") or {}

    def __repr__(self) -> str:
        return f"PluginConfig(type={self.type!r})"


class NetworkConfigList:
    """A network: its name, the selected cniVersion, the flags and the plugin chain in order."""

    __slots__ = ("name", "cni_version", "disable_check", "disable_gc", "load_only_inlined_plugins",
                 "plugins", "data")

    def __init__(self, name: str, cni_version: str, plugins: list[PluginConfig], data: bytes,
                 disable_check: bool = False, disable_gc: bool = False,
                 load_only_inlined_plugins: bool = False) -> None:
        self.name = name
        self.cni_version = cni_version
        self.plugins = plugins
        self.data = data
        self.disable_check = disable_check
        self.disable_gc = disable_gc
        self.load_only_inlined_plugins = load_only_inlined_plugins

    def __repr__(self) -> str:
        return (f"NetworkConfigList(name={self.name!r}, cni_version={self.cni_version!r}, "
                f"plugins={[p.type for p in self.plugins]!r})")


# --- helpers --------------------------------------------------------------------------------------


def os_error_text(op: str, path: str, exc: OSError) -> str:
    """Go's *PathError text: "open /x: no such file or directory"."""
    if isinstance(exc, IsADirectoryError):
        return f"read {path}: is a directory"
    reason = (exc.strerror or str(exc)).lower()
    return f"{op} {path}: {reason}"


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(f"error reading {path}: {os_error_text('open', path, exc)}") from None


def _go_ext(name: str) -> str:
    # filepath.Ext: from the last dot of the final element (".conflist" alone has that extension).
    i = name.rfind(".")
    return name[i:] if i >= 0 else ""


def conf_files(directory: str, extensions: list[str]) -> list[str]:
    """ConfFiles: the non-directory entries of `directory` with one of `extensions`, by name.

    A missing directory gives no files and no error.
    """
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise ConfigError(f"readdirent {directory}: not a directory") from None
    except OSError as exc:
        raise ConfigError(os_error_text("open", directory, exc)) from None
    out = []
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                continue
        except OSError:
            pass
        if _go_ext(e.name) in extensions:
            out.append(os.path.join(directory, e.name))
    return out


def _unmarshal(data: bytes | str) -> Any:
    try:
        return gojson.loads(data)
    except gojson.JSONSyntaxError as exc:
        raise ConfigError(str(exc)) from None


# --- plugin objects --------------------------------------------------------------------------------


def plugin_conf_from_bytes(data: bytes) -> PluginConfig:
    """NetworkPluginConfFromBytes: types.PluginConf decoding, and `type` must be set."""
    try:
        raw = gojson.loads(data)
        network = {} if raw is None else load_netconf(raw)
    except (gojson.JSONSyntaxError, DecodeError) as exc:
        raise ConfigError(f"error parsing configuration: {exc}") from None
    if not network.get("type"):
        raise ConfigError("error parsing configuration: missing 'type'")
    return PluginConfig(network, data)


def plugin_confs_from_files(conf_dir: str, network_name: str) -> list[PluginConfig]:
    """NetworkPluginConfsFromFiles: the plugin objects in `<conf_dir>/<network_name>/*.conf`."""
    plugin_dir = os.path.normpath(conf_dir + "/" + network_name)  # filepath.Join
    try:
        files = conf_files(plugin_dir, [".conf"])
    except ConfigError as exc:
        raise ConfigError(f"failed to read plugin config files in {plugin_dir}: {exc}") from None
    return [plugin_conf_from_bytes(_read(f)) for f in files]


# --- network lists ---------------------------------------------------------------------------------


def _greater_than(a: str, b: str) -> bool:
    return parse_version(a) > parse_version(b)


def _read_bool(raw: dict[str, Any], key: str) -> bool:
    if key not in raw:
        return False
    val = raw[key]
    if isinstance(val, bool):
        return val
    if not isinstance(val, str):
        raise ConfigError(f"error parsing configuration list: invalid type {go_type_name(val)} for {key}")
    low = val.lower()
    if low in ("true", "false"):
        return low == "true"
    raise ConfigError(f"error parsing configuration list: invalid value {q(low)} for {key}")


def _select_version(raw: dict[str, Any]) -> str:
    version = ""
    if "cniVersion" in raw:
        version = raw["cniVersion"]
        if not isinstance(version, str):
            raise ConfigError(f"error parsing configuration list: invalid cniVersion type {go_type_name(version)}")
    if "cniVersions" not in raw:
        return version
    listed = raw["cniVersions"]
    if not isinstance(listed, list):
        # libcni names the type of its (nil) target slice here, not the value's.
        raise ConfigError("error parsing configuration list: invalid type for cniVersions: []interface {}")
    keep: list[str] = []
    for i, v in enumerate(listed):
        if not isinstance(v, str):
            raise ConfigError(
                f"error parsing configuration list: invalid type for cniVersions index {i}: {go_type_name(v)}")
        try:
            if not _greater_than(v, CURRENT):
                keep.append(v)
        except VersionError as exc:
            raise ConfigError(
                f"error parsing configuration list: invalid cniVersions entry {v} at index {i}: {exc}") from None
    if version != "":
        try:
            if not _greater_than(version, CURRENT):
                keep.append(version)
        except VersionError as exc:
            raise ConfigError(f"error parsing configuration list: invalid cniVersion {version}: {exc}") from None
    if keep:
        best = keep[0]
        for v in keep[1:]:
            if parse_version(v) >= parse_version(best):
                best = v
        version = best
    return version


def _loads_map(data: bytes, prefix: str) -> dict[str, Any]:
    """json.Unmarshal into a map[string]interface{}: null leaves it empty, a non-object is a type error;
    both errors read `<prefix>: <Go's text>`."""
    try:
        doc = gojson.loads(data)
    except gojson.JSONSyntaxError as exc:
        raise ConfigError(f"{prefix}: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{prefix}: json: cannot unmarshal {json_kind(doc)} "
                          "into Go value of type map[string]interface {}")
    return doc


def network_conf_from_bytes(data: bytes) -> NetworkConfigList:
    """NetworkConfFromBytes: a conflist document (inline plugins only)."""
    raw = _loads_map(data, "error parsing configuration list")
    if "name" not in raw:
        raise ConfigError("error parsing configuration list: no name")
    name = raw["name"]
    if not isinstance(name, str):
        raise ConfigError(f"error parsing configuration list: invalid name type {go_type_name(name)}")
    version = _select_version(raw)
    disable_check = _read_bool(raw, "disableCheck")
    disable_gc = _read_bool(raw, "disableGC")
    only_inlined = _read_bool(raw, "loadOnlyInlinedPlugins")
    out = NetworkConfigList(name, version, [], bytes(data), disable_check, disable_gc, only_inlined)
    if "plugins" not in raw:
        if only_inlined:
            raise ConfigError("error parsing configuration list: `loadOnlyInlinedPlugins` is true, "
                              "and no 'plugins' key")
        return out
    plugins = raw["plugins"]
    if not isinstance(plugins, list):
        raise ConfigError(f"error parsing configuration list: invalid 'plugins' type {go_type_name(plugins)}")
    if not plugins:
        raise ConfigError("error parsing configuration list: no plugins in list")
    for i, conf in enumerate(plugins):
        try:
            text = marshal(go_any(conf))
        except MarshalError as exc:
            raise ConfigError(f"failed to marshal plugin config {i}: {exc}") from None
        try:
            out.plugins.append(plugin_conf_from_bytes(text.encode()))
        except ConfigError as exc:
            raise ConfigError(f"failed to parse plugin config {i}: {exc}") from None
    return out


def network_conf_from_file(path: str) -> NetworkConfigList:
    """NetworkConfFromFile: the list, plus `<dir>/<name>/*.conf` unless loadOnlyInlinedPlugins."""
    conf = network_conf_from_bytes(_read(path))
    if not conf.load_only_inlined_plugins:
        conf.plugins.extend(plugin_confs_from_files(os.path.dirname(path) or ".", conf.name))
    if not conf.plugins:
        raise ConfigError("no plugin configs found")
    return conf


def load_conf(directory: str, name: str) -> PluginConfig:
    """LoadConf (deprecated format): the first `*.conf`/`*.json` single-plugin file with `name`."""
    files = conf_files(directory, [".conf", ".json"])
    if not files:
        raise NoConfigsFoundError(directory)
    for f in sorted(files):
        conf = plugin_conf_from_bytes(_read(f))
        if conf.name == name:
            return conf
    raise NotFoundError(directory, name)


def conf_list_from_conf(conf: PluginConfig) -> NetworkConfigList:
    """ConfListFromConf: wrap one plugin object as {"name", "cniVersion", "plugins": [it]}."""
    raw = gojson.loads(conf.data)
    wrapped = {"name": conf.name, "cniVersion": conf.cni_version, "plugins": [go_any(raw)]}
    return network_conf_from_bytes(marshal(wrapped).encode())


def load_network(directory: str, name: str) -> NetworkConfigList:
    """LoadNetworkConf: the network `name` from the config files in `directory`."""
    files = sorted(conf_files(directory, [".conflist"]))
    for f in files:
        conf = network_conf_from_file(f)
        if conf.name == name:
            return conf
    try:
        single = load_conf(directory, name)
    except NoConfigsFoundError:
        if files:
            raise NotFoundError(directory, name) from None
        raise
    return conf_list_from_conf(single)


def load_network_file(path: str) -> NetworkConfigList:
    """A `.conflist` file by path (NetworkConfFromFile), or a single `.conf`/`.json` wrapped."""
    if _go_ext(os.path.basename(path)) == ".conflist":
        return network_conf_from_file(path)
    return conf_list_from_conf(plugin_conf_from_bytes(_read(path)))


# --- building a plugin's stdin -------------------------------------------------------------------


def inject_conf(plugin: PluginConfig, values: dict[str, Any]) -> PluginConfig:
    """InjectConf: the plugin object decoded into a map, `values` set over it, marshalled again."""
    config = go_any(_loads_map(plugin.data, "unmarshal existing network bytes"))
    for key, value in values.items():
        if key == "":
            raise ConfigError("keys cannot be empty")
        if value is None:
            raise ConfigError(f"key '{key}' value must not be nil")
        config[key] = value
    try:
        text = marshal(config)
    except MarshalError as exc:
        raise ConfigError(str(exc)) from None
    return plugin_conf_from_bytes(text.encode())
