//! `chervil dashboard`: a web page over a monitoring database.
//!
//! The server is small: a few JSON routes ([`queries`]) and one page (`web/`, our own
//! HTML, JavaScript and CSS, plus the uPlot charting library from npm, all embedded in
//! the binary: nothing is fetched at run time). The page draws the workflows, one
//! workflow (task states over time, a table per app, a Gantt chart of tries by host
//! and block, blocks and nodes, resource use, the task graph) and one task, and polls
//! the JSON again every two seconds while a run is going, so it follows a live run.
//!
//! Each request opens the database read-only on a blocking thread: the writer (a
//! running workflow) is never held up, and WAL mode lets both go on at once.

pub mod queries;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("no monitoring database at {0}: run a workflow with Config(monitoring=MonitoringHub()) first, or name the file (runinfo/monitoring.db by default)")]
    NoDatabase(PathBuf),
    #[error("{path} is not a monitoring database Chervil can read: {error}")]
    NotADatabase { path: PathBuf, error: rusqlite::Error },
    #[error("cannot listen on {addr}: {error}; choose another --port")]
    Listen { addr: SocketAddr, error: std::io::Error },
    #[error("cannot start the dashboard's runtime: {0}")]
    Runtime(std::io::Error),
}

struct Db {
    path: PathBuf,
}

/// The page, its script and style, and the charting library, embedded.
const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const UPLOT_JS: &str = include_str!("../web/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../web/vendor/uPlot.min.css");

/// Checks that `path` is a monitoring database (the `workflow` table can be read).
pub fn check(path: &Path) -> Result<(), DashboardError> {
    if !path.is_file() {
        return Err(DashboardError::NoDatabase(path.to_path_buf()));
    }
    let bad = |error| DashboardError::NotADatabase { path: path.to_path_buf(), error };
    let conn = queries::open(path).map_err(bad)?;
    conn.query_row("SELECT count(*) FROM workflow", [], |r| r.get::<_, i64>(0)).map_err(bad)?;
    Ok(())
}

/// The routes, over the database at `path`.
pub fn router(path: PathBuf) -> Router {
    let db = Arc::new(Db { path });
    Router::new()
        .route("/", get(page))
        .route("/workflow/{run}", get(page))
        .route("/workflow/{run}/task/{task}", get(page))
        .route("/static/{file}", get(asset))
        .route("/api/workflows", get(api_workflows))
        .route("/api/workflow/{run}", get(api_workflow))
        .route("/api/workflow/{run}/graph", get(api_graph))
        .route("/api/workflow/{run}/task/{task}", get(api_task))
        .with_state(db)
}

/// Serves until Ctrl-C (or SIGTERM). Checks the database first, so a wrong path is
/// an error at once rather than a blank page.
pub fn serve(path: PathBuf, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> Result<(), DashboardError> {
    check(&path)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(DashboardError::Runtime)?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|error| DashboardError::Listen { addr, error })?;
        let bound = listener.local_addr().map_err(|error| DashboardError::Listen { addr, error })?;
        ready(bound);
        tracing::info!(%bound, db = %path.display(), "dashboard serving");
        axum::serve(listener, router(path))
            .with_graceful_shutdown(stopped())
            .await
            .map_err(|error| DashboardError::Listen { addr, error })
    })
}

async fn stopped() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], INDEX).into_response()
}

async fn asset(UrlPath(file): UrlPath<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "uPlot.iife.min.js" => (UPLOT_JS, "text/javascript; charset=utf-8"),
        "uPlot.min.css" => (UPLOT_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Runs a query on a blocking thread with its own read-only connection; a missing row
/// is a 404, a database error a 500 with its message.
async fn query<T: serde::Serialize + Send + 'static>(
    db: Arc<Db>,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<Option<T>> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || queries::open(&db.path).and_then(|conn| f(&conn))).await;
    match result {
        Ok(Ok(Some(value))) => ([(header::CACHE_CONTROL, "no-cache")], Json(value)).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "not found"}))).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "dashboard query failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": e.to_string()}))).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": e.to_string()}))).into_response(),
    }
}

async fn api_workflows(State(db): State<Arc<Db>>) -> Response {
    query(db, |c| queries::workflows(c).map(Some)).await
}

async fn api_workflow(State(db): State<Arc<Db>>, UrlPath(run): UrlPath<String>) -> Response {
    query(db, move |c| queries::summary(c, &run)).await
}

async fn api_graph(State(db): State<Arc<Db>>, UrlPath(run): UrlPath<String>) -> Response {
    query(db, move |c| queries::graph(c, &run).map(Some)).await
}

async fn api_task(State(db): State<Arc<Db>>, UrlPath((run, task)): UrlPath<(String, i64)>) -> Response {
    query(db, move |c| queries::task(c, &run, task)).await
}
