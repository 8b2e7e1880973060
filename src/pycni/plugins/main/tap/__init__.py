"""`tap`: a persistent tap device in the container, optionally a port of a bridge there.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("tap", impl="pycni.plugins.main.tap.plugin")
