"""`host-device`: move an existing host interface into the container, and back on DEL.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("host-device", impl="pycni.plugins.main.host_device.plugin")
