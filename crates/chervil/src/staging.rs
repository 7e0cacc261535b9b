//! Staging remote files in, as Parsl's default staging does (`HTTPSeparateTaskStaging`,
//! `FTPSeparateTaskStaging`): an `http://`, `https://` or `ftp://` [`File`] given to an
//! app becomes the result of a fetch task of its own on the same executor, which the
//! app waits for; a failed fetch fails the app with a `DependencyError` naming it.
//!
//! The fetch runs where tasks run, with `curl` (on every cluster node and container we
//! know of): it downloads to a temporary name beside the target and renames it, so a
//! failed or interrupted fetch never leaves a half file where the app will look.

use std::path::Path;
use std::process::Command;

use crate::future::File;

/// The schemes fetched before a task runs.
pub(crate) const FETCHED: [&str; 3] = ["http", "https", "ftp"];

/// Where a URL's file lands in the worker's directory: its last path segment (query and
/// fragment dropped), as Parsl names it.
pub(crate) fn file_name(url: &str) -> String {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    match path.rsplit('/').next().filter(|n| !n.is_empty() && path.contains('/')) {
        Some(name) => name.to_string(),
        None => "index.html".to_string(),
    }
}

/// Why a fetch failed: the URL and what `curl` (the server) said.
#[derive(Debug, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("could not stage in {url}: {why}")]
pub struct StagingError {
    pub url: String,
    pub why: String,
}

/// The fetch task: `url` to its file name in `dir` (the executor's `working_dir`), or
/// in this process's directory.
#[crate::app]
fn fetch(url: String, dir: Option<String>) -> Result<File, StagingError> {
    let failed = |why: String| StagingError { url: url.clone(), why };
    let dir = dir.unwrap_or_default();
    if !dir.is_empty() {
        std::fs::create_dir_all(&dir).map_err(|e| failed(format!("cannot make the working_dir {dir}: {e}")))?;
    }
    let name = file_name(&url);
    let local = Path::new(&dir).join(&name);
    let part = Path::new(&dir).join(format!(".{name}.part-{}", std::process::id()));
    let out = Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location", "--output"])
        .arg(&part)
        .args(["--", &url])
        .output()
        .map_err(|e| failed(format!("cannot run curl ({e}); staging http, https and ftp files needs curl on the workers' PATH")))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&part);
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(failed(if said.is_empty() { format!("curl exited with {}", out.status) } else { said }));
    }
    std::fs::rename(&part, &local).map_err(|e| failed(format!("cannot move the download to {}: {e}", local.display())))?;
    Ok(File::fetched(url, local.to_string_lossy().into_owned()))
}

/// Submits the fetch of `file` on the executor labelled `label`; its future's result is
/// the fetched [`File`].
pub(crate) fn stage_in(file: &File, label: &str, dir: Option<String>) -> crate::AppFuture<File> {
    fetch::with(crate::Opts::new().executors(&[label]), file.url().to_string(), dir)
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn a_url_names_its_file_by_its_last_segment() {
        assert_eq!(file_name("https://example.org/data/in.csv?x=1#top"), "in.csv");
        assert_eq!(file_name("ftp://host/pub/file.tar.gz"), "file.tar.gz");
        assert_eq!(file_name("https://example.org/"), "index.html");
        assert_eq!(file_name("https://example.org"), "index.html");
    }
}
