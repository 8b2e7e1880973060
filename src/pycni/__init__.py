"""pycni: the CNI reference plugins, in Python.

Nothing is imported here on purpose: a plugin executable pays for every import at start-up.
"""

__version__ = "0.1.0"
