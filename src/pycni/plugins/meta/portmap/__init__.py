"""`portmap`: forward host ports to the container (chained), with iptables or nftables.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("portmap", impl="pycni.plugins.meta.portmap.plugin")
