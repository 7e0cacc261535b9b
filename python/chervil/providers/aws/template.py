"""The instance's start-up script (``parsl.providers.aws.template``), as Chervil writes
it: worker set-up, the workers, then power-off (left out with ``linger=True``)."""
from chervil.providers._template import render

template_string = render('aws', {})
