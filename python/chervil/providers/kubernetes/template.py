"""The pod's command (``parsl.providers.kubernetes.template``): ``worker_init``, then the
workers' command, run by the container's shell (``str.format`` fields, as in Parsl)."""

template_string = """{worker_init}

{command}
"""
