//! `chervil dashboard` from Python: serves until interrupted, without the GIL.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

/// Serves the dashboard for the database at `db` on `host:port` (port 0: any free
/// one) until Ctrl-C or SIGTERM; prints the address it listens on first.
#[pyfunction]
#[pyo3(signature = (db, host = "127.0.0.1", port = 8080))]
pub fn serve_dashboard(py: Python<'_>, db: PathBuf, host: &str, port: u16) -> PyResult<()> {
    let ip: IpAddr = host.parse().map_err(|_| PyValueError::new_err(format!("--host {host:?} is not an IP address")))?;
    let result = py.detach(|| {
        chervil_dashboard::serve(db, SocketAddr::new(ip, port), |bound| {
            println!("chervil dashboard: http://{bound}/  (Ctrl-C stops it)");
        })
    });
    match result {
        Ok(()) => Err(PyKeyboardInterrupt::new_err("dashboard stopped")),
        Err(e) => Err(crate::errors::dashboard(e)),
    }
}
