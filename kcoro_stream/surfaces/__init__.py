"""Surfaces: the terminal dashboard, the browser page, Prometheus and remote write (one sink per module)."""
