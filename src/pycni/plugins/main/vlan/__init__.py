"""`vlan`: an 802.1Q sub-interface of `master` in the container.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("vlan", impl="pycni.plugins.main.vlan.plugin")
