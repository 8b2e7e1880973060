"""`firewall`: allow the container's traffic through the host firewall (chained; CNI 0.4.0 and later).

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("firewall", impl="pycni.plugins.meta.firewall.plugin", versions=("0.4.0", "1.0.0", "1.1.0"))
