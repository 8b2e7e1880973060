"""`ipvlan`: an ipvlan child (l2, l3, l3s) of a host or container interface.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("ipvlan", impl="pycni.plugins.main.ipvlan.plugin")
