from chervil.providers.slurm.slurm import SlurmProvider

__all__ = ['SlurmProvider']
