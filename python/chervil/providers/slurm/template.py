"""The Slurm batch script (``parsl.providers.slurm.template``), as Chervil writes it."""
from chervil.providers._template import render

template_string = render('slurm', {'7777771': '${nodes}'}, drop=('@PROJECT@', 'cpus-per-task', 'PARSL_CORES'))
