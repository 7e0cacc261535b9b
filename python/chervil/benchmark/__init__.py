"""``chervil perf``: measure task throughput of a configuration (like ``parsl-perf``)."""
