"""The Torque batch script (``parsl.providers.torque.template``), as Chervil writes it."""
from chervil.providers._template import render

template_string = render('torque', {'7777771': '${nodes_per_block}'}, drop=('@PROJECT@',))
