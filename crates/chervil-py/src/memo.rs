//! The memo table as Python sees it: the engine's rules (`chervil_run::memo`, the Rust
//! front's too) holding Python objects, so a hit within the run gives back the very
//! object an earlier task returned, as Parsl's table does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chervil_run::memo::{Lookup, MemoTable as Engine, Write};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Outcomes by memo hash, earlier runs' checkpointed results, and what this run's
/// checkpoint must hold.
#[pyclass(frozen, module = "chervil._core")]
pub struct MemoTable {
    inner: Mutex<Engine<Py<PyAny>, Py<PyAny>>>,
}

impl MemoTable {
    /// Held only for the table's own work: no Python code runs under it (replaced
    /// objects are dropped after it is released).
    fn lock(&self) -> MutexGuard<'_, Engine<Py<PyAny>, Py<PyAny>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl MemoTable {
    /// Loads the results of the checkpoint directories `dirs` (raises `CheckpointError`
    /// naming a damaged file); `writing` when this run writes a checkpoint.
    #[new]
    #[pyo3(signature = (dirs, writing))]
    fn new(py: Python<'_>, dirs: Option<Vec<PathBuf>>, writing: bool) -> PyResult<Self> {
        let dirs = dirs.unwrap_or_default();
        let loaded = if dirs.is_empty() {
            Default::default()
        } else {
            py.detach(|| chervil_checkpoint::load_dirs(&dirs)).map_err(crate::errors::checkpoint)?
        };
        let table = Engine::new(loaded.into_iter().map(|(h, b)| (h, Arc::<[u8]>::from(b))), writing);
        Ok(MemoTable { inner: Mutex::new(table) })
    }

    /// A result loaded already unpickled (Parsl's own checkpoint files).
    fn preload(&self, hash: String, result: Py<PyAny>) {
        self.lock().preload(hash, result);
    }

    fn __len__(&self) -> usize {
        self.lock().len()
    }

    /// None (run it), `(True, result)`, `(False, exception)`, or the pickled bytes of an
    /// earlier run's result.
    fn lookup(&self, py: Python<'_>, hash: &str) -> PyResult<Option<Py<PyAny>>> {
        let table = self.lock();
        Ok(match table.lookup(hash) {
            Lookup::Miss => None,
            Lookup::Done(r) => Some((true, r.clone_ref(py)).into_pyobject(py)?.into_any().unbind()),
            Lookup::Failed(e) => Some((false, e.clone_ref(py)).into_pyobject(py)?.into_any().unbind()),
            Lookup::Checkpointed(bytes) => Some(PyBytes::new(py, &bytes).into_any().unbind()),
        })
    }

    /// Checkpointed bytes that no longer unpickle: forgotten, so the task runs again.
    fn undecodable(&self, hash: &str) {
        self.lock().undecodable(hash);
    }

    /// A memoized task succeeded: None (write nothing), True (pickle the result into
    /// this run's checkpoint) or the bytes to write as they are.
    fn succeeded(&self, py: Python<'_>, hash: &str, result: Py<PyAny>, from_memo: bool) -> Option<Py<PyAny>> {
        let done = self.lock().succeeded(hash, result, from_memo);
        drop(done.replaced);
        match done.write {
            Write::Nothing => None,
            Write::Encode => Some(true.into_pyobject(py).ok()?.to_owned().into_any().unbind()),
            Write::Bytes(b) => Some(PyBytes::new(py, &b).into_any().unbind()),
        }
    }

    /// A memoized task failed (its own failure): the same call fails so within the run.
    fn failed(&self, hash: &str, error: Py<PyAny>) {
        let replaced = self.lock().failed(hash, error);
        drop(replaced);
    }
}
