"""Parsl's usage-tracking levels, so configs that name them load. Chervil sends no usage
data anywhere: ``Config(usage_tracking=...)`` is accepted and recorded, nothing more."""
