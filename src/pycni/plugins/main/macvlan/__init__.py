"""`macvlan`: a macvlan child of a host (or, with linkInContainer, container) interface.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("macvlan", impl="pycni.plugins.main.macvlan.plugin")
