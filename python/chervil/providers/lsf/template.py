"""The LSF batch script (``parsl.providers.lsf.template``), as Chervil writes it."""
from chervil.providers._template import render

template_string = render('lsf', {'#BSUB -W 0': '#BSUB -W ${walltime}', '7777771': '${nodes_per_block}'},
                         drop=('@PROJECT@',))
