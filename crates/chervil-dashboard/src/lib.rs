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
//!
//! The browser is a party too. A web page the user visits can make it send requests to
//! `127.0.0.1:8080` under a name of the page's choosing (DNS rebinding), so a request is
//! served only if its `Host` is one this server answers to ([`host_allowed`]).
//! Connections are bounded as the interchange's are (`chervil_admission`): at most
//! [`MAX_UNANSWERED`] that have not yet been answered a request hold a descriptor (when
//! full, one waiting over a second is closed for a newcomer), each must send a request's
//! headers within [`HEADER_TIMEOUT`] (and idles no longer between requests), and at
//! most [`MAX_CONNECTIONS`] are open at once; the rest wait in the listen backlog.

pub mod queries;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
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
        .route("/api/workflow/{run}/tasks", get(api_tasks))
        .route("/api/workflow/{run}/failures", get(api_failures))
        .route("/api/workflow/{run}/task/{task}", get(api_task))
        .with_state(db)
        .layer(middleware::from_fn(check_host))
}

/// How long a connection may take to send a request's headers, and stay idle between
/// requests (the page asks every two seconds while a run goes on).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections open at once that have not been answered a request yet.
pub const MAX_UNANSWERED: usize = 128;

/// Whether a request's `Host` names this server: an IP address (a rebinding attack needs
/// a name), `localhost` or a name under it (browsers resolve those to loopback
/// themselves), or this machine's own name — with any port.
/// A request without one (HTTP/1.0) is refused too: browsers always send it.
pub fn host_allowed(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => return v6.split_once(']').is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<std::net::Ipv4Addr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    // Exactly this machine's name: not names that merely start with it, which anyone can
    // register under a domain of their own.
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let own = own.trim().to_ascii_lowercase();
    !own.is_empty() && name == own
}

async fn check_host(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if host_allowed(host) {
        return next.run(request).await;
    }
    tracing::warn!(host, "request refused: its Host is not a name this dashboard answers to");
    (
        StatusCode::MISDIRECTED_REQUEST,
        "This dashboard answers only to an IP address, localhost or this machine's name in the Host header \
         (it refuses other names so that a web page cannot read it through DNS rebinding).\n",
    )
        .into_response()
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
        accept_loop(listener, router(path)).await;
        Ok(())
    })
}

/// Serves connections until Ctrl-C or SIGTERM, bounded as the module doc says.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router) {
    chervil_admission::raise_open_file_limit();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let unanswered = chervil_admission::Gate::new(MAX_UNANSWERED, Duration::from_secs(1));
    let mut stop = std::pin::pin!(stopped());
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            _ = &mut stop => return,
        };
        let (tcp, peer, pass, evicted) = tokio::select! {
            accepted = unanswered.accept(&listener) => accepted,
            _ = &mut stop => return,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(Answered { stream: tcp, pass: Some(pass) });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, service);
            tokio::select! {
                served = connection => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                }
                _ = evicted.wait() => tracing::debug!(%peer, "closed: no request within a second, and its place was needed"),
            }
            drop(slot);
        });
    }
}

/// A connection's stream: the first bytes written back (a response) prove it is a real
/// client, and its place among the unanswered is given back.
struct Answered {
    stream: tokio::net::TcpStream,
    pass: Option<chervil_admission::Pass>,
}

impl Answered {
    fn wrote(&mut self, result: &std::task::Poll<std::io::Result<usize>>) {
        if matches!(result, std::task::Poll::Ready(Ok(n)) if *n > 0) {
            self.pass = None;
        }
    }
}

impl tokio::io::AsyncRead for Answered {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Answered {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(&result);
        result
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
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

async fn api_tasks(
    State(db): State<Arc<Db>>,
    UrlPath(run): UrlPath<String>,
    Query(filter): Query<queries::TaskFilter>,
) -> Response {
    query(db, move |c| queries::tasks(c, &run, &filter).map(Some)).await
}

async fn api_failures(State(db): State<Arc<Db>>, UrlPath(run): UrlPath<String>) -> Response {
    query(db, move |c| queries::failures(c, &run).map(Some)).await
}

async fn api_task(State(db): State<Arc<Db>>, UrlPath((run, task)): UrlPath<(String, i64)>) -> Response {
    query(db, move |c| queries::task(c, &run, task)).await
}
