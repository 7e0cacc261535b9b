"""The HTCondor submit file (``parsl.providers.condor.template``), as Chervil writes it
(the job's own script travels beside it, named by ``${job_script}``)."""
from chervil.providers._template import render

template_string = render('condor', {
    '@DIR@/@JOBNAME@.script,@INPUT_FILES@': '${input_files}',
    '@JOBNAME@.script': '${job_script}',
    '@DIR@/@JOBNAME@.log': '${submit_script_dir}/${job_name}.log',
    '@DIR@/@JOBNAME@.stdout': '${submit_script_dir}/${job_name}.stdout',
    '@DIR@/@JOBNAME@.stderr': '${submit_script_dir}/${job_name}.stderr',
    "JOBNAME='@JOBNAME@'": '${environment}',
    '@REQUIREMENTS@': '${requirements}',
    '@PROJECT@': '${project}',
    '7777771': '${nodes}',
    '@JOBNAME@': '${job_name}',
}, drop=('RequestCpus',))
