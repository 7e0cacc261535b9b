"""Parsl's ``parsl.tests`` namespace, for what its documentation imports from it: the
ready-made configurations in ``parsl.tests.configs`` (``from
parsl.tests.configs.local_threads import config``). Parsl's tests themselves are not here;
Chervil runs them from Parsl's own package (``tests/parsl_suite``)."""
