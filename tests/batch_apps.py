"""Apps shared by the tests that run blocks on a real batch scheduler."""
from chervil import python_app


@python_app
def park_in_block(marker, job_var):
    """The first call writes its block's job id (from `job_var`) to `marker` and stays
    there, so the test can kill that block under it; a retry elsewhere returns at once."""
    import os
    import time
    if not os.path.exists(marker):
        with open(marker, 'w') as f:
            f.write(os.environ[job_var])
        time.sleep(300)
    return os.environ[job_var]
