"""How a run sets up logging (``parsl.logconfigs``): ``Config(initialize_logging=...)``
takes ``True`` (``runinfo/NNN/parsl.log``, the default), ``False`` (none), or one of
these: ``FileLogging``, ``JSONLogging``, ``NoopLogging``, or a ``LogConfig`` of your own."""
