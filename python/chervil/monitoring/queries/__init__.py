"""Queries over a monitoring database (``parsl.monitoring.queries``)."""
