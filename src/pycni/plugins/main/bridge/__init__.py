"""`bridge`: a veth pair per container, the host end enslaved to a Linux bridge.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("bridge", impl="pycni.plugins.main.bridge.plugin")
