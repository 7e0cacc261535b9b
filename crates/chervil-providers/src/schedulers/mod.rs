//! The batch schedulers: each one's files, commands and answers (see
//! [`crate::batch::Scheduler`]).
//!
//! Slurm and Grid Engine are exercised against live schedulers in the tests; the
//! others cannot run here, so their scripts are checked and their parsers are fed
//! recorded answers (`tests/recorded/`). Kubernetes and the clouds carry their own
//! settings (an image, a machine type), so they are built with them rather than
//! [`by_name`].

pub mod cloud;
pub mod cobalt;
pub mod condor;
pub mod gridengine;
pub mod kubernetes;
pub mod lsf;
pub mod pbs;
pub mod slurm;

use std::collections::BTreeMap;

use crate::batch::Scheduler;
use crate::JobState;

/// A scheduler by Parsl's provider label.
pub fn by_name(name: &str) -> Option<Box<dyn Scheduler>> {
    Some(match name {
        "slurm" => Box::new(slurm::Slurm),
        "pbspro" => Box::new(pbs::Pbs::Pro),
        "torque" => Box::new(pbs::Pbs::Torque),
        "grid_engine" => Box::new(gridengine::GridEngine),
        "lsf" => Box::new(lsf::Lsf),
        "condor" => Box::new(condor::Condor),
        "cobalt" => Box::new(cobalt::Cobalt),
        _ => return None,
    })
}

/// The rows of a status tool's table whose first column is a job id (it starts
/// with a digit; headers and rulers do not): id → the state read from column
/// `state_col`, with a note for the log.
pub(crate) fn table(stdout: &str, state_col: usize, read: impl Fn(&str) -> (JobState, &'static str)) -> BTreeMap<String, (JobState, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            let id = c.first().filter(|id| id.starts_with(|ch: char| ch.is_ascii_digit()))?;
            let (state, note) = read(c.get(state_col)?);
            Some((id.to_string(), (state, note.to_string())))
        })
        .collect()
}

/// `head`, the job ids, then `tail`: how status and cancel commands are called.
pub(crate) fn with_ids<S: AsRef<str>>(head: &[&str], ids: &[S], tail: &[&str]) -> Vec<String> {
    head.iter().map(|s| s.to_string()).chain(ids.iter().map(|s| s.as_ref().to_string())).chain(tail.iter().map(|s| s.to_string())).collect()
}
