"""How monitoring data reaches the database from remote workers
(``parsl.monitoring.radios``; ``HighThroughputExecutor(remote_monitoring_radio=...)``).

In Parsl a radio carries the per-task resource monitor's messages from workers to the
submit side. Chervil has no per-task monitor process: each HTEX pool samples its workers
itself and sends the samples, with its results, over its own (TLS) connection to the
interchange, which hands them to the monitor in the engine. So every radio is accepted
and none is needed: ``HTEXRadio`` is what Chervil does anyway; with ``UDPRadio``,
``FilesystemRadio`` or ``MultiprocessingQueueRadio`` the executor logs that the samples go
over the pool's connection instead. The radio classes keep Parsl's constructor
arguments; asking one for a sender or receiver raises, saying the same.
"""
