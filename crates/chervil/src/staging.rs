//! Getting a task's files where it runs: an executor's `storage_access`, as Parsl's.
//!
//! - **Remote inputs** (Parsl's default `HTTPSeparateTaskStaging`, `FTPSeparateTaskStaging`):
//!   an `http://`, `https://` or `ftp://` [`File`] given to an app becomes the result of a
//!   fetch task of its own on the same executor, which the app waits for; a failed fetch
//!   fails the app with a `DependencyError` naming it. The fetch runs where tasks run, with
//!   `curl` (on every cluster node and container we know of): it downloads to a temporary
//!   name beside the target and renames it, so a failed or interrupted fetch never leaves a
//!   half file where the app will look.
//! - **Local files over rsync** (Parsl's `RSyncStaging`): for workers without the client's
//!   file system. The submit gives each local `File` argument a place in the executor's
//!   `working_dir` and lists the copies; inside the task, before the app runs, each input
//!   is copied from the client's host with `rsync` over ssh, and after it succeeds each of
//!   its `outputs` is copied back (one it did not write fails the task, `MissingOutputs`).
//!   The decision is the submit's and the copying the worker's, so the program's apps need
//!   nothing of their own: they read and write at [`File::filepath`].

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::future::{ArgKind, ErasedArg, File};

/// How an executor's tasks get their files (Parsl's `storage_access`). Default:
/// [`Http`](Staging::Http) and [`Ftp`](Staging::Ftp); local paths are then read where
/// they are (a shared file system, Parsl's `NoOpFileStaging`).
#[derive(Debug, Clone, PartialEq)]
pub enum Staging {
    /// `http://` and `https://` inputs, fetched by a task of their own (Parsl's `HTTPSeparateTaskStaging`).
    Http,
    /// `ftp://` inputs, likewise (Parsl's `FTPSeparateTaskStaging`).
    Ftp,
    /// Local files copied with rsync inside the task (Parsl's `RSyncStaging`).
    RSync(RSyncStaging),
}

/// Local files copied between the client's host and the worker with `rsync` over ssh,
/// inside each task (Parsl's `RSyncStaging`): the workers need ssh access to `hostname`
/// (a key set up in `worker_init`, or ssh's options in [`rsh`](RSyncStaging::rsh)) and
/// `rsync` on their `PATH`, not the client's file system.
#[derive(Debug, Clone, PartialEq)]
pub struct RSyncStaging {
    hostname: String,
    rsh: Vec<String>,
}

impl RSyncStaging {
    /// Files live on `hostname` (`login1`, `me@login1`): where the client runs, as the
    /// workers reach it.
    pub fn new(hostname: impl Into<String>) -> Self {
        RSyncStaging { hostname: hostname.into(), rsh: Vec::new() }
    }

    /// The remote shell rsync runs, with its options (default `ssh`): for instance
    /// `["ssh", "-p", "2222", "-i", "/home/me/.ssh/cluster"]` (a Chervil addition to Parsl's).
    pub fn rsh<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.rsh = argv.into_iter().map(Into::into).collect();
        self
    }
}

/// An executor's staging: its `storage_access` and where files land (`working_dir`).
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    pub(crate) access: Vec<Staging>,
    pub(crate) working_dir: Option<String>,
}

impl Storage {
    pub(crate) fn new(access: Option<&[Staging]>, working_dir: Option<String>) -> Self {
        let access = access.map_or_else(|| vec![Staging::Http, Staging::Ftp], <[Staging]>::to_vec);
        Storage { access, working_dir }
    }

    /// For a join app, which runs in the client: remote files fetched as here, local
    /// ones read where they are.
    pub(crate) fn in_client(&self) -> Self {
        let access = self.access.iter().filter(|s| !matches!(s, Staging::RSync(_))).cloned().collect();
        Storage { access, working_dir: self.working_dir.clone() }
    }

    fn rsync(&self) -> Option<&RSyncStaging> {
        self.access.iter().find_map(|s| match s {
            Staging::RSync(r) => Some(r),
            _ => None,
        })
    }

    /// Whether a remote file of `scheme` is fetched, or why not (naming the fix).
    fn fetches(&self, scheme: &str) -> Result<(), String> {
        let wanted = if scheme == "ftp" { Staging::Ftp } else { Staging::Http };
        match self.access.contains(&wanted) {
            true => Ok(()),
            false => Err(format!("no staging of this executor takes scheme '{scheme}'; add Staging::{wanted:?} to its storage_access")),
        }
    }

    /// Where a file named `name` lands where the task runs.
    fn local(&self, name: &str) -> String {
        match self.working_dir.as_deref().map(|d| d.trim_end_matches('/')) {
            Some(dir) if !dir.is_empty() => format!("{dir}/{name}"),
            _ => name.to_string(),
        }
    }
}

/// The copies a task makes where it runs, before and after its app (rsync staging).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskFiles {
    /// `(host:path, local path)`: copied in before the app runs.
    stage_in: Vec<(String, String)>,
    /// `(local path, host:path)`: copied back once it has succeeded.
    stage_out: Vec<(String, String)>,
    /// The remote shell and its options (empty: rsync's default, ssh).
    rsh: Vec<String>,
}

impl TaskFiles {
    pub(crate) fn stage_in(&self) -> Result<(), Error> {
        self.stage_in.iter().try_for_each(|(remote, local)| rsync(Copy::In, remote, local, &self.rsh))
    }

    /// After the app succeeded: every output it should have written, sent back.
    pub(crate) fn stage_out(&self, app: &str) -> Result<(), Error> {
        let missing: Vec<String> = self.stage_out.iter().map(|(local, _)| local).filter(|l| !Path::new(l).exists()).cloned().collect();
        if !missing.is_empty() {
            return Err(Error::MissingOutputs {
                app: app.to_string(),
                files: missing,
                why: "the app did not write them, so they cannot be sent back".into(),
            });
        }
        self.stage_out.iter().try_for_each(|(local, remote)| rsync(Copy::Out, remote, local, &self.rsh))
    }
}

/// Which way a copy goes: to where the task runs, or back.
#[derive(Clone, Copy, PartialEq)]
enum Copy {
    In,
    Out,
}

/// `rsync -a` between `remote` (`host:path`) and `local`, in the direction given; the
/// local folder is made first for a copy in.
fn rsync(way: Copy, remote: &str, local: &str, rsh: &[String]) -> Result<(), Error> {
    let failed = |why: String| Error::Staging { file: remote.to_string(), why };
    // rsync reads `a:b` as a host: a relative local path is spelled from `./`.
    let local = match local.starts_with('/') {
        true => local.to_string(),
        false => format!("./{local}"),
    };
    if way == Copy::In {
        if let Some(dir) = Path::new(&local).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failed(format!("cannot make {}: {e}", dir.display())))?;
        }
    }
    let mut command = Command::new("rsync");
    command.arg("-a");
    if !rsh.is_empty() {
        command.arg("-e").arg(rsh.join(" "));
    }
    let (source, destination) = match way {
        Copy::In => (remote, local.as_str()),
        Copy::Out => (local.as_str(), remote),
    };
    let out = command
        .args([source, destination])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run rsync ({e}); rsync staging needs rsync on the workers' PATH")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let tail: String = said.trim().chars().rev().take(500).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(failed(format!("rsync exited with {}: {tail}", out.status)));
    }
    Ok(())
}

/// A local file's two names under rsync staging: `host:/its/absolute/path`, and its
/// place where the task runs (its name in the working dir).
fn names(rsync: &RSyncStaging, storage: &Storage, file: &File) -> (String, String) {
    let path = file.filepath();
    let path = std::path::absolute(&path).unwrap_or(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    (format!("{}:{}", rsync.hostname, path.display()), storage.local(&name))
}

/// What the submit makes of a task's files on an executor (`label`, `storage`): each
/// remote input becomes the result of a fetch task there; with rsync staging each local
/// one (a plain `File` or a [`DataFuture`](crate::DataFuture)'s) is given its place in the
/// working dir and listed for the task to copy, and each of `outputs` listed to be sent
/// back. Err: a remote file no staging of the executor takes.
pub(crate) fn prepare(args: &mut [ErasedArg], outputs: &[File], label: &str, storage: &Storage) -> Result<Option<TaskFiles>, String> {
    let rsync = storage.rsync();
    let mut files = TaskFiles::default();
    for arg in args.iter_mut() {
        let (file, copy_in, upstream) = match &mut arg.0 {
            ArgKind::Stage(file) if file.remote() => {
                storage.fetches(file.scheme())?;
                let fetch = stage_in(file, label, storage.working_dir.clone());
                *arg = crate::IntoArg::into_arg(fetch).erase();
                continue;
            }
            // A file the task writes is only given its place; the others are copied in.
            ArgKind::Stage(file) => {
                let written = outputs.iter().any(|o| o.url() == file.url());
                (file, !written, false)
            }
            ArgKind::After(_, file) => (file, true, true),
            _ => continue,
        };
        match file.scheme() {
            _ if file.placed() => {}
            "file" => {
                if let Some(rsync) = rsync {
                    let (remote, local) = names(rsync, storage, file);
                    if copy_in {
                        files.stage_in.push((remote, local.clone()));
                    }
                    *file = File::fetched(file.url().to_string(), local);
                }
            }
            // A DataFuture's URL: the app that wrote it put it there.
            _ if upstream => {}
            scheme => return Err(format!("no staging takes scheme '{scheme}' ({file}): Chervil stages http, https, ftp and, with rsync, local files")),
        }
    }
    if let Some(rsync) = rsync {
        for out in outputs.iter().filter(|o| !o.remote()) {
            let (remote, local) = names(rsync, storage, out);
            files.stage_out.push((local, remote));
        }
    }
    if files.stage_in.is_empty() && files.stage_out.is_empty() {
        return Ok(None);
    }
    files.rsh = rsync.map(|r| r.rsh.clone()).unwrap_or_default();
    Ok(Some(files))
}

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
    use super::*;
    use crate::IntoArg;

    fn file_arg(path: &str) -> ErasedArg {
        IntoArg::<File>::into_arg(File::new(path)).erase()
    }

    fn file_of(arg: &ErasedArg) -> &File {
        match &arg.0 {
            ArgKind::Stage(f) | ArgKind::After(_, f) => f,
            _ => panic!("not a file"),
        }
    }

    #[test]
    fn local_files_are_read_where_they_are_without_rsync() {
        let mut args = vec![file_arg("/data/in.txt")];
        let files = prepare(&mut args, &[File::new("/data/out.txt")], "htex", &Storage::new(None, Some("w".into())));
        assert_eq!(files, Ok(None));
        assert_eq!(file_of(&args[0]).filepath(), Path::new("/data/in.txt"));
    }

    #[test]
    fn rsync_copies_inputs_in_and_outputs_back_through_the_working_dir() {
        let rsync = RSyncStaging::new("me@login").rsh(["ssh", "-p", "2222"]);
        let storage = Storage::new(Some(&[Staging::RSync(rsync)]), Some("work/".into()));
        let mut args = vec![file_arg("/data/in.txt"), file_arg("/data/out.txt"), IntoArg::<i64>::into_arg(3).erase()];
        let files = prepare(&mut args, &[File::new("/data/out.txt")], "htex", &storage).unwrap().unwrap();
        assert_eq!(files.stage_in, vec![("me@login:/data/in.txt".to_string(), "work/in.txt".to_string())]);
        assert_eq!(files.stage_out, vec![("work/out.txt".to_string(), "me@login:/data/out.txt".to_string())]);
        assert_eq!(files.rsh, ["ssh", "-p", "2222"]);
        assert_eq!(file_of(&args[0]).filepath(), Path::new("work/in.txt"), "the app reads the copy");
        assert_eq!(file_of(&args[1]).filepath(), Path::new("work/out.txt"), "and writes where it is sent back from");
        assert_eq!(file_of(&args[0]).url(), "/data/in.txt", "the file keeps its name");
    }

    #[test]
    fn a_relative_path_is_sent_from_the_clients_directory() {
        let storage = Storage::new(Some(&[Staging::RSync(RSyncStaging::new("login"))]), None);
        let mut args = vec![file_arg("data/in.txt")];
        let files = prepare(&mut args, &[], "htex", &storage).unwrap().unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(files.stage_in, vec![(format!("login:{}", here.join("data/in.txt").display()), "in.txt".to_string())]);
    }

    #[test]
    fn a_scheme_no_staging_takes_is_refused_with_the_fix() {
        let storage = Storage::new(Some(&[Staging::Http]), None);
        let why = prepare(&mut [file_arg("ftp://host/pub/x")], &[], "htex", &storage).unwrap_err();
        assert!(why.contains("scheme 'ftp'") && why.contains("Staging::Ftp"), "{why}");
        let why = prepare(&mut [file_arg("globus://ep/x")], &[], "htex", &Storage::new(None, None)).unwrap_err();
        assert!(why.contains("scheme 'globus'"), "{why}");
    }

    #[test]
    fn a_url_names_its_file_by_its_last_segment() {
        assert_eq!(file_name("https://example.org/data/in.csv?x=1#top"), "in.csv");
        assert_eq!(file_name("ftp://host/pub/file.tar.gz"), "file.tar.gz");
        assert_eq!(file_name("https://example.org/"), "index.html");
        assert_eq!(file_name("https://example.org"), "index.html");
    }
}
