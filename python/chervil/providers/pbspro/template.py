"""The PBS Pro batch script (``parsl.providers.pbspro.template``), as Chervil writes it."""
from chervil.providers._template import render

template_string = render('pbspro', {'7777771': '${nodes_per_block}'}, drop=('@PROJECT@',))
