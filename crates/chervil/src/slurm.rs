//! Slurm blocks through the engine's batch provider (the Python front's, unchanged).

use std::path::Path;

use chervil_providers::batch::{BatchProvider, BlockSpec};
use chervil_providers::schedulers::slurm::Slurm;

use crate::config::SlurmProvider;

/// A batch provider for `config`; its scripts and job output go to `scripts`.
pub(crate) fn provider(config: &SlurmProvider, scripts: &Path) -> Result<BatchProvider, String> {
    let spec = BlockSpec {
        nodes_per_block: 1,
        walltime: config.walltime.clone(),
        queue: config.partition.clone(),
        worker_init: config.worker_init.clone(),
        scheduler_options: config.scheduler_options.clone(),
        ..BlockSpec::default()
    };
    BatchProvider::new(Box::new(Slurm), spec, scripts).map_err(|e| e.to_string())
}
