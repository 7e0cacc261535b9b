"""The submit scripts the engine writes, as ``string.Template`` text with Parsl's
placeholder names: what each provider's ``template`` module shows (``template_string``).

Chervil composes scripts in the engine (``chervil-providers``), not from these templates;
they are rendered from the engine's own output (``_core.script_with_sentinels``) so that
they show exactly what it writes, for code that reads or fills Parsl's templates.
"""
from typing import Dict

from chervil import _core

_COMMON = [
    ('@DIR@/@JOBNAME@.stdout', '${job_stdout_path}'),
    ('@DIR@/@JOBNAME@.stderr', '${job_stderr_path}'),
    ('@DIR@', '${submit_script_dir}'),
    ('@WALLTIME@', '${walltime}'),
    ('@WORKER_INIT@', '${worker_init}'),
    ('@SCHEDULER_OPTIONS@', '${scheduler_options}'),
    ('@USER_SCRIPT@', '${user_script}'),
    ('@SELECT_OPTIONS@', '${select_options}'),
    ('7777772', '${tasks_per_node}'),
    ('7777773', '${ncpus}'),
]


def render(scheduler: str, names: Dict[str, str], drop: tuple = ()) -> str:
    """The engine's script for ``scheduler`` with its sentinels replaced: ``names`` first
    (scheduler-specific), then the common ones; lines holding any of ``drop`` left out
    (values Parsl's template does not have: they go in ``scheduler_options`` there)."""
    # the script's own dollars ($PBS_O_WORKDIR, Grid Engine's #$) stay literal
    text = _core.script_with_sentinels(scheduler).replace('$', '$$')
    lines = [line for line in text.splitlines(keepends=True) if not any(d in line for d in drop)]
    text = ''.join(lines)
    for sentinel, name in [*names.items(), *_COMMON]:
        text = text.replace(sentinel, name)
    return text.replace('@JOBNAME@', '${jobname}')
