"""`sbr`: source-based routing for one container interface.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("sbr", impl="pycni.plugins.meta.sbr.plugin")
