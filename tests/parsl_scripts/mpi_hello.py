"""An MPI workflow written for Parsl's MPIExecutor (run unchanged on Parsl and on Chervil).

    python mpi_hello.py RUN_DIR NODEFILE
"""
import sys

import parsl
from parsl.config import Config
from parsl.executors import MPIExecutor
from parsl.launchers import SimpleLauncher
from parsl.providers import LocalProvider


# Each rank lives a moment after it prints: MPICH's Hydra (4.0) dies of SIGPIPE now and then
# when every rank of a non-MPI program exits at once on a busy machine (on Parsl as here).
@parsl.bash_app
def ranks(parsl_resource_specification=None, stdout=None, stderr=None):
    return "echo \"$PARSL_MPI_PREFIX|$PARSL_NUM_NODES|$PARSL_NUM_RANKS\"; $PARSL_MPI_PREFIX bash -c 'echo rank $PMI_RANK; sleep 0.3'"


if __name__ == '__main__':
    run_dir, nodefile = sys.argv[1], sys.argv[2]
    config = Config(executors=[MPIExecutor(max_workers_per_block=2, provider=LocalProvider(
                        launcher=SimpleLauncher(), init_blocks=1, max_blocks=1,
                        worker_init=f'export PBS_NODEFILE={nodefile}'))],
                    run_dir=run_dir, strategy='none')
    with parsl.load(config):
        for n, spec in enumerate([{'num_nodes': 2, 'ranks_per_node': 2}, {'num_nodes': 1, 'num_ranks': 3}]):
            out = f'{run_dir}/ranks{n}.out'
            ranks(parsl_resource_specification=spec, stdout=out, stderr=f'{run_dir}/ranks{n}.err').result()
            lines = open(out).read().splitlines()
            print(lines[0])
            print(sorted(lines[1:]))
    print('done')
