"""The runtime side of CNI (libcni): load a network's configuration, run its plugin chain for an
attachment, keep the result cache. See docs/runtime.md.

    from pycni.runtime import CNIRuntime, RuntimeConf, load_network
    net = load_network("/etc/cni/net.d", "mynet")
    cni = CNIRuntime(["/opt/cni/bin"], cache_dir="/var/lib/cni")
    result = cni.add_network_list(net, RuntimeConf("ctr1", "/run/netns/ctr1", "eth0"))

Names are resolved on first use, so importing this package costs nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.runtime.api import CNIRuntime, NetworkAttachment, RuntimeConf
    from pycni.runtime.cache import DEFAULT_CACHE_DIR
    from pycni.runtime.conf import (
        NetworkConfigList,
        PluginConfig,
        conf_files,
        conf_list_from_conf,
        load_conf,
        load_network,
        load_network_file,
        network_conf_from_bytes,
        network_conf_from_file,
        plugin_conf_from_bytes,
    )
    from pycni.runtime.errors import CNIRuntimeError, ConfigError, NoConfigsFoundError, NotFoundError

_EXPORTS = {
    "CNIRuntime": "api", "RuntimeConf": "api", "NetworkAttachment": "api",
    "DEFAULT_CACHE_DIR": "cache",
    "NetworkConfigList": "conf", "PluginConfig": "conf", "conf_files": "conf", "conf_list_from_conf": "conf",
    "load_conf": "conf", "load_network": "conf", "load_network_file": "conf",
    "network_conf_from_bytes": "conf", "network_conf_from_file": "conf", "plugin_conf_from_bytes": "conf",
    "CNIRuntimeError": "errors", "ConfigError": "errors", "NoConfigsFoundError": "errors",
    "NotFoundError": "errors",
}

__all__ = [
    "CNIRuntime", "CNIRuntimeError", "ConfigError", "DEFAULT_CACHE_DIR", "NetworkAttachment", "NetworkConfigList",
    "NoConfigsFoundError", "NotFoundError", "PluginConfig", "RuntimeConf", "conf_files", "conf_list_from_conf",
    "load_conf", "load_network", "load_network_file", "network_conf_from_bytes", "network_conf_from_file",
    "plugin_conf_from_bytes",
]


def __getattr__(name: str) -> object:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'pycni.runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"pycni.runtime.{mod}"), name)
    globals()[name] = value
    return value
