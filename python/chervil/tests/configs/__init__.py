"""Ready-made configurations, as Parsl's documentation uses them. Each module has
``fresh_config()`` (a new ``Config`` each call) and ``config`` (one made at import)."""
