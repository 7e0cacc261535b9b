//! The one place engine errors become Python exceptions.
//!
//! Each kind of engine failure has its own class, all under `EngineError` (itself a
//! `RuntimeError`, as engine failures were before they had types). The Python front
//! catches exactly the class it can explain — a provider's refusal becomes Parsl's
//! `SubmitException`, a bad checkpoint Parsl's `BadCheckpoint` — so an engine bug (a
//! panic, another class) is never dressed up as a scheduler's answer. Settings the
//! engine refuses are `ValueError`s, as Python's own checks are; a task specification it
//! refuses is Parsl's own `InvalidResourceSpecification`.

use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(_core, EngineError, PyRuntimeError, "A failure the engine reports (each kind is a subclass).");
create_exception!(_core, ProviderError, EngineError, "A provider could not submit, query or cancel a block's job.");
create_exception!(_core, CheckpointError, EngineError, "Checkpoint files could not be read or written.");
create_exception!(_core, InterchangeError, EngineError, "The interchange could not start or serve its pools.");
create_exception!(_core, PoolError, EngineError, "A worker pool could not start or had to stop.");
create_exception!(_core, KernelError, EngineError, "The DataFlowKernel refused an event (e.g. after cleanup).");
create_exception!(_core, DashboardError, EngineError, "The dashboard could not serve.");

pub(crate) fn provider(e: chervil_providers::ProviderError) -> PyErr {
    match e {
        chervil_providers::ProviderError::Config(m) => PyValueError::new_err(m),
        other => ProviderError::new_err(other.to_string()),
    }
}

pub(crate) fn checkpoint(e: chervil_checkpoint::CheckpointError) -> PyErr {
    CheckpointError::new_err(e.to_string())
}

pub(crate) fn interchange(e: impl std::fmt::Display) -> PyErr {
    InterchangeError::new_err(e.to_string())
}

pub(crate) fn pool(e: chervil_htex::pool::PoolError) -> PyErr {
    PoolError::new_err(e.to_string())
}

pub(crate) fn kernel(err: chervil_core::KernelError) -> PyErr {
    match err {
        chervil_core::KernelError::Closed => KernelError::new_err(err.to_string()),
        _ => PyValueError::new_err(err.to_string()),
    }
}

/// Parsl's own class, `InvalidResourceSpecification(invalid_keys, message)`, for a task
/// specification the engine refused.
pub(crate) fn resource_specification(e: chervil_mpi::Refused) -> PyErr {
    Python::attach(|py| {
        let made = py.import("chervil.executors.errors").and_then(|m| {
            let keys = pyo3::types::PySet::new(py, &e.keys)?;
            m.getattr("InvalidResourceSpecification")?.call1((keys, e.message.clone()))
        });
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(import_failed) => import_failed,
        }
    })
}

pub(crate) fn dashboard(e: chervil_dashboard::DashboardError) -> PyErr {
    match e {
        chervil_dashboard::DashboardError::NoDatabase(_) => PyValueError::new_err(e.to_string()),
        e => DashboardError::new_err(e.to_string()),
    }
}
