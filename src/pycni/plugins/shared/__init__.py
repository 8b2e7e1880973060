"""Mechanisms two or more plugins need, one job per module (upstream's pkg/ for plugins)."""
