"""Ready-made configs, under Parsl's names: ``from parsl.configs.local_threads import config``.

``local_threads`` and ``htex_local`` run on this machine. The others are starting points
for named clusters and clouds (as in Parsl): copy one and fill in your account,
partition and network interface. A preset that needs something Chervil does not have
(Flux, Work Queue, TaskVine, Globus Compute) fails on import with an
error that names what is missing.
"""
