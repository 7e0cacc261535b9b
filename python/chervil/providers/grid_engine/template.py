"""The Grid Engine batch script (``parsl.providers.grid_engine.template``), as Chervil
writes it."""
from chervil.providers._template import render

template_string = render('grid_engine', {}, drop=('@PROJECT@',))
