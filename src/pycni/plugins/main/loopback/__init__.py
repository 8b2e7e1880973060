"""`loopback`: bring `lo` up in the container.

The declaration: what VERSION needs. The handlers are in `plugin.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("loopback", impl="pycni.plugins.main.loopback.plugin")
