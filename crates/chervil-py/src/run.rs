//! The run's rules (chervil-run, and the pool's worker rule) as the Python front asks
//! them: the same functions the Rust front calls, so the two cannot disagree.

use std::path::{Path, PathBuf};

use chervil_htex::{NodeShape, WorkerSlots};
use chervil_run::RunDirError;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

fn strings(paths: Vec<PathBuf>) -> Vec<String> {
    paths.into_iter().map(|p| p.to_string_lossy().into_owned()).collect()
}

/// Makes the next numbered run directory under `base` (private unless
/// `CHERVIL_RUN_DIR_MODE` widens it) and returns its absolute path.
#[pyfunction]
pub fn make_run_dir(base: PathBuf) -> PyResult<String> {
    match chervil_run::make_run_dir(&base) {
        Ok(dir) => Ok(dir.to_string_lossy().into_owned()),
        Err(e @ RunDirError::BadMode(_)) => Err(PyValueError::new_err(e.to_string())),
        Err(e @ RunDirError::Io { .. }) => Err(PyOSError::new_err(e.to_string())),
    }
}

/// Every run's checkpoint directory under `runs`, oldest first by run number.
#[pyfunction]
pub fn all_checkpoints(runs: PathBuf) -> Vec<String> {
    strings(chervil_run::all_checkpoints(&runs))
}

/// The latest run's checkpoint directory under `runs`, as a list of zero or one.
#[pyfunction]
pub fn last_checkpoint(runs: PathBuf) -> Vec<String> {
    strings(chervil_run::last_checkpoint(&runs))
}

/// The checkpoint directories a run loads: `named` (the config's `checkpoint_files`),
/// or, when it is None and `checkpointing`, every earlier run's under `runs`.
#[pyfunction]
pub fn checkpoints_to_load(named: Option<Vec<PathBuf>>, checkpointing: bool, runs: PathBuf, own: PathBuf) -> Vec<String> {
    strings(chervil_run::checkpoints_to_load(named.as_deref(), checkpointing, &runs, Path::new(&own)))
}

/// Workers a block is expected to bring before its pools connect (the pools' own rule
/// on what is known of the node: the provider's `cores_per_node`/`mem_per_node`, and
/// when `local` without `max_workers_per_node` this machine's figures for what they
/// leave out; 1 when nothing bounds it, as Parsl guesses).
#[pyfunction]
#[pyo3(signature = (*, max_workers_per_node, cores_per_worker, mem_per_worker, accelerators, nodes_per_block, local, cores_per_node=None, mem_per_node=None))]
#[allow(clippy::too_many_arguments)] // Parsl's settings, each named at the call (keyword-only)
pub fn expected_slots_per_block(
    max_workers_per_node: Option<u32>,
    cores_per_worker: f64,
    mem_per_worker: Option<f64>,
    accelerators: usize,
    nodes_per_block: u32,
    local: bool,
    cores_per_node: Option<usize>,
    mem_per_node: Option<f64>,
) -> f64 {
    let slots = WorkerSlots {
        max_workers_per_node,
        cores_per_worker,
        mem_per_worker_gb: mem_per_worker,
        accelerators: (0..accelerators).map(|i| i.to_string()).collect(),
    };
    let said = NodeShape { cores: cores_per_node, mem_gb: mem_per_node };
    // A local block's node is this machine, whose figures fill in what the provider
    // leaves out — unless the user bounded the workers themselves, where Parsl's
    // expectation (theirs) stands.
    let node = if local && max_workers_per_node.is_none() { said.or_this_machine() } else { said };
    slots.expected_per_block(node, nodes_per_block)
}
