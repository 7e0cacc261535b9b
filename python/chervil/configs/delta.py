"""Delta (NCSA), A100 partition: one GPU node per block through srun. Set working_dir and account."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='Delta_GPU_Executor', working_dir='/scratch/path/to/your/directory', max_workers_per_node=1,
    provider=SlurmProvider(partition='gpuA100x4', account='YOUR_ALLOCATION_ON_DELTA', constraint='scratch',
                           nodes_per_block=1, cores_per_node=32, mem_per_node=220, init_blocks=1, max_blocks=1,
                           walltime='00:30:00', scheduler_options='#SBATCH --gpus-per-node=1 --gpu-bind=closest',
                           worker_init='', exclusive=False, launcher=SrunLauncher()))])
