//! What MPI mode needs of an executor, checked when the executor is configured; both
//! fronts ask here, each naming the fix in its own spelling.

use crate::prefix::Launcher;

/// Why an executor cannot run in MPI mode as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// `$PARSL_MPI_PREFIX` is composed for mpiexec, srun and aprun only.
    #[error("mpi_launcher {0:?} is unknown; choose 'mpiexec', 'srun' or 'aprun'")]
    UnknownLauncher(String),
    /// The block would start several pools, each believing it owns every node.
    #[error(
        "MPI mode needs its provider to use the simple launcher: one pool per block, on the block's first node, \
         which launches each task's ranks itself"
    )]
    NeedsSimpleLauncher,
}

/// MPI mode starts each task's ranks with `mpi_launcher`, from the one pool a block
/// runs: so the launcher must be one Parsl composes a prefix for, and the block's own
/// launcher must start the pool once (`block_starts_one_pool`: Parsl's `SimpleLauncher`,
/// or a provider that has no launcher).
pub fn check_mode(mpi_launcher: &str, block_starts_one_pool: bool) -> Result<Launcher, ModeError> {
    let launcher = Launcher::parse(mpi_launcher).ok_or_else(|| ModeError::UnknownLauncher(mpi_launcher.to_string()))?;
    if !block_starts_one_pool {
        return Err(ModeError::NeedsSimpleLauncher);
    }
    Ok(launcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_launcher_and_one_pool_per_block_is_mpi_mode() {
        assert_eq!(check_mode("srun", true), Ok(Launcher::Srun));
    }

    #[test]
    fn an_unknown_launcher_is_named_before_the_block_launcher() {
        let e = check_mode("mpirun", false).unwrap_err();
        assert_eq!(e, ModeError::UnknownLauncher("mpirun".into()));
        assert!(e.to_string().contains("choose 'mpiexec', 'srun' or 'aprun'"), "{e}");
    }

    #[test]
    fn a_block_that_starts_several_pools_is_refused() {
        let e = check_mode("mpiexec", false).unwrap_err();
        assert_eq!(e, ModeError::NeedsSimpleLauncher);
        assert!(e.to_string().contains("one pool per block"), "{e}");
    }
}
