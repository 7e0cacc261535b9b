//! Clouds: one virtual machine per block, through the cloud's own CLI (`aws`,
//! `gcloud`), which brings the user's credentials, profiles and proxies.
//!
//! The block's script is the machine's start-up script (EC2 user data, a GCE
//! `startup-script`). Unless `linger` is set, the machine powers itself off when
//! the pool ends or the walltime passes, and is made to terminate on power-off: a
//! block the client forgot cannot bill forever. Neither cloud can be reached from
//! here: the commands are checked and recorded answers are replayed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::batch::{walltime_seconds, BlockSpec, JobFiles, Scheduler};
use crate::{cli, JobState, ProviderError};

/// The machine's start-up script: the walltime guard, worker_init, the pool.
pub fn vm_script(spec: &BlockSpec, name: &str, command: &str, linger: bool) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let seconds = walltime_seconds(&spec.walltime);
    if !linger && seconds > 0 {
        s.push_str(&format!("( sleep {seconds}; shutdown -h now ) &\n"));
    }
    s.push_str(&spec.worker_init);
    s.push_str(&format!("\nexport JOBNAME={name}\n{command}\n"));
    if !linger {
        s.push_str("shutdown -h now\n");
    }
    s
}

/// `id state` rows of a CLI's text output, for the ids `keep` accepts.
fn id_state_rows(stdout: &str, keep: impl Fn(&str) -> bool, read: impl Fn(&str) -> JobState) -> BTreeMap<String, (JobState, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut c = l.split_whitespace();
            let id = c.next().filter(|id| keep(id))?;
            Some((id.to_string(), (read(c.next()?), String::new())))
        })
        .collect()
}

/// The block name a script file was written for (`<name>.<suffix>`).
fn job_name(file: &Path, suffix: &str) -> String {
    file.file_name().map(|n| n.to_string_lossy().trim_end_matches(suffix).to_string()).unwrap_or_default()
}

/// Amazon EC2 (Parsl's `AWSProvider` parameters).
#[derive(Debug, Clone, Default)]
pub struct Aws {
    pub image_id: String,
    pub key_name: String,
    pub instance_type: String,
    pub region: String,
    /// Dollars per hour; 0 for on-demand.
    pub spot_max_bid: f64,
    pub profile: Option<String>,
    pub iam_instance_profile_arn: String,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub linger: bool,
}

/// EC2's instance states, read as Parsl reads them.
pub fn ec2_state(state: &str) -> JobState {
    match state {
        "pending" => JobState::Pending,
        "running" => JobState::Running,
        "shutting-down" | "terminated" | "stopping" | "stopped" => JobState::Completed,
        _ => JobState::Unknown,
    }
}

impl Aws {
    fn aws(&self) -> Vec<String> {
        let mut argv = vec!["aws".to_string()];
        if let Some(p) = &self.profile {
            argv.extend(["--profile".into(), p.clone()]);
        }
        argv.extend(["--region".into(), self.region.clone(), "--output".into(), "text".into(), "ec2".into()]);
        argv
    }
}

impl Scheduler for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        vec![(job.path(".user-data"), vm_script(spec, &job.name, command, self.linger))]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        let name = job_name(submit_file, ".user-data");
        let mut argv = self.aws();
        argv.extend([
            "run-instances".into(),
            "--image-id".into(),
            self.image_id.clone(),
            "--instance-type".into(),
            self.instance_type.clone(),
            "--count".into(),
            "1".into(),
            "--user-data".into(),
            format!("file://{}", submit_file.display()),
            "--instance-initiated-shutdown-behavior".into(),
            "terminate".into(),
            "--tag-specifications".into(),
            format!("ResourceType=instance,Tags=[{{Key=Name,Value={name}}},{{Key=chervil,Value=block}}]"),
            "--query".into(),
            "Instances[0].InstanceId".into(),
        ]);
        if !self.key_name.is_empty() {
            argv.extend(["--key-name".into(), self.key_name.clone()]);
        }
        if self.spot_max_bid > 0.0 {
            argv.extend(["--instance-market-options".into(), format!("MarketType=spot,SpotOptions={{MaxPrice={}}}", self.spot_max_bid)]);
        }
        if !self.iam_instance_profile_arn.is_empty() {
            argv.extend(["--iam-instance-profile".into(), format!("Arn={}", self.iam_instance_profile_arn)]);
        }
        if let Some(subnet) = &self.subnet_id {
            argv.extend(["--subnet-id".into(), subnet.clone()]);
        }
        if !self.security_group_ids.is_empty() {
            argv.push("--security-group-ids".into());
            argv.extend(self.security_group_ids.iter().cloned());
        }
        argv
    }

    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.split_whitespace().find(|w| w.starts_with("i-")).map(str::to_string)
    }

    fn status_argv(&self, _spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        let mut argv = self.aws();
        argv.extend(["describe-instances".into(), "--query".into(), "Reservations[].Instances[].[InstanceId,State.Name]".into(), "--instance-ids".into()]);
        argv.extend(ids.iter().map(|s| s.to_string()));
        argv
    }

    /// `i-0abc…<TAB>running` rows.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        id_state_rows(stdout, |id| id.starts_with("i-"), ec2_state)
    }

    /// A terminated instance stays listed for a while; one already gone makes
    /// `describe-instances` fail with InvalidInstanceID.NotFound.
    fn status_failure_is_benign(&self, _code: i32, stderr: &str) -> bool {
        stderr.contains("InvalidInstanceID.NotFound")
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        let mut argv = self.aws();
        argv.extend(["terminate-instances".into(), "--instance-ids".into()]);
        argv.extend(ids.iter().cloned());
        argv
    }
}

/// Google Compute Engine (Parsl's `GoogleCloudProvider` parameters).
#[derive(Debug, Clone, Default)]
pub struct GoogleCloud {
    pub project_id: String,
    /// A service account key; empty for gcloud's own login.
    pub key_file: String,
    pub region: String,
    /// Found from `region` (its first zone that is UP) when empty.
    pub zone: String,
    pub os_project: String,
    pub os_family: String,
    pub instance_type: String,
    pub linger: bool,
}

/// Compute Engine's instance states, read as Parsl reads them.
pub fn gce_state(state: &str) -> JobState {
    match state {
        "PROVISIONING" | "STAGING" => JobState::Pending,
        "RUNNING" => JobState::Running,
        "STOPPING" | "STOPPED" | "TERMINATED" | "SUSPENDING" | "SUSPENDED" => JobState::Completed,
        _ => JobState::Unknown,
    }
}

/// A name Compute Engine accepts: `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63
/// characters; the end (which carries the block's serial) is kept.
pub fn instance_name(wanted: &str) -> String {
    let s: String = wanted.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let s = s.trim_matches('-');
    let s = if s.starts_with(|c: char| c.is_ascii_lowercase()) { s.to_string() } else { format!("c-{s}") };
    let tail = s.len().saturating_sub(63);
    let s = s[tail..].trim_start_matches(|c: char| !c.is_ascii_lowercase());
    if s.is_empty() {
        "chervil-block".into()
    } else {
        s.to_string()
    }
}

impl GoogleCloud {
    fn gcloud(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if !self.key_file.is_empty() {
            argv.extend(["env".into(), format!("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE={}", self.key_file)]);
        }
        argv.extend(["gcloud".into(), "--quiet".into(), "--project".into(), self.project_id.clone(), "compute".into()]);
        argv
    }

    /// The command that names the region's first zone that is up.
    pub fn zone_argv(&self) -> Vec<String> {
        let mut argv = self.gcloud();
        argv.extend([
            "zones".into(),
            "list".into(),
            format!("--filter=region~/{}$ AND status=UP", self.region),
            "--sort-by=name".into(),
            "--format=value(name)".into(),
        ]);
        argv
    }
}

impl Scheduler for GoogleCloud {
    fn name(&self) -> &'static str {
        "google_cloud"
    }

    fn prepare(&mut self, spec: &BlockSpec) -> Result<(), ProviderError> {
        if !self.zone.is_empty() {
            return Ok(());
        }
        let argv = self.zone_argv();
        let out = cli::run(&argv.iter().map(String::as_str).collect::<Vec<_>>(), None, spec.cmd_timeout)?.success(argv.join(" "))?;
        self.zone = out.stdout.split_whitespace().next().map(str::to_string).ok_or_else(|| {
            ProviderError::Config(format!("region {:?} has no zone that is UP in project {:?}; give zone= explicitly", self.region, self.project_id))
        })?;
        tracing::info!(zone = %self.zone, region = %self.region, "Compute Engine zone chosen");
        Ok(())
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        vec![(job.path(".startup"), vm_script(spec, &job.name, command, self.linger))]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        let mut argv = self.gcloud();
        argv.extend([
            "instances".into(),
            "create".into(),
            instance_name(&job_name(submit_file, ".startup")),
            "--zone".into(),
            self.zone.clone(),
            "--machine-type".into(),
            self.instance_type.clone(),
            "--image-project".into(),
            self.os_project.clone(),
            "--image-family".into(),
            self.os_family.clone(),
            "--labels=chervil=block".into(),
            format!("--metadata-from-file=startup-script={}", submit_file.display()),
            "--format=value(name)".into(),
        ]);
        argv
    }

    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().map(str::trim).find(|l| l.starts_with(|c: char| c.is_ascii_lowercase())).map(str::to_string)
    }

    fn status_lists_all(&self) -> bool {
        true
    }

    fn status_argv(&self, _spec: &BlockSpec, _ids: &[&str]) -> Vec<String> {
        let mut argv = self.gcloud();
        argv.extend(["instances".into(), "list".into(), format!("--zones={}", self.zone), "--filter=labels.chervil=block".into(), "--format=value(name,status)".into()]);
        argv
    }

    /// `name<TAB>STATUS` rows.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        id_state_rows(stdout, |_| true, gce_state)
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        let mut argv = self.gcloud();
        argv.extend(["instances".into(), "delete".into()]);
        argv.extend(ids.iter().cloned());
        argv.extend(["--zone".into(), self.zone.clone()]);
        argv
    }
}

/// OpenStack (Parsl's `JetstreamProvider`, generalized): one server per block through
/// the `openstack` CLI, which reads the standard `OS_*` environment or `clouds.yaml`
/// (`cloud` names an entry); no credential is ever written to a file of ours.
#[derive(Debug, Clone, Default)]
pub struct OpenStack {
    pub cloud: Option<String>,
    pub image: String,
    pub flavor: String,
    pub network: String,
    pub key_name: String,
    pub security_groups: Vec<String>,
    pub linger: bool,
}

/// Nova's server states.
pub fn openstack_state(status: &str) -> JobState {
    match status {
        "BUILD" => JobState::Pending,
        "ACTIVE" | "REBOOT" | "HARD_REBOOT" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING" | "PASSWORD" => JobState::Running,
        "ERROR" => JobState::Failed,
        "SHUTOFF" | "DELETED" | "SOFT_DELETED" => JobState::Completed,
        "PAUSED" | "SUSPENDED" | "SHELVED" | "SHELVED_OFFLOADED" | "RESCUE" => JobState::Held,
        _ => JobState::Unknown,
    }
}

impl OpenStack {
    fn openstack(&self) -> Vec<String> {
        let mut argv = vec!["openstack".to_string()];
        if let Some(c) = &self.cloud {
            argv.extend(["--os-cloud".into(), c.clone()]);
        }
        argv.extend(["server".into()]);
        argv
    }
}

impl Scheduler for OpenStack {
    fn name(&self) -> &'static str {
        "openstack"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        vec![(job.path(".user-data"), vm_script(spec, &job.name, command, self.linger))]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        let mut argv = self.openstack();
        argv.extend([
            "create".into(),
            "--image".into(),
            self.image.clone(),
            "--flavor".into(),
            self.flavor.clone(),
            "--network".into(),
            self.network.clone(),
        ]);
        if !self.key_name.is_empty() {
            argv.extend(["--key-name".into(), self.key_name.clone()]);
        }
        for group in &self.security_groups {
            argv.extend(["--security-group".into(), group.clone()]);
        }
        argv.extend([
            "--user-data".into(),
            submit_file.display().to_string(),
            "--property".into(),
            "chervil=block".into(),
            "-f".into(),
            "value".into(),
            "-c".into(),
            "id".into(),
            job_name(submit_file, ".user-data"),
        ]);
        argv
    }

    /// `-f value -c id` prints the server's id alone.
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().map(str::trim).find(|l| !l.is_empty() && !l.contains(' ')).map(str::to_string)
    }

    fn status_lists_all(&self) -> bool {
        true
    }

    fn status_argv(&self, _spec: &BlockSpec, _ids: &[&str]) -> Vec<String> {
        let mut argv = self.openstack();
        argv.extend(["list", "--property", "chervil=block", "-f", "value", "-c", "ID", "-c", "Status"].map(String::from));
        argv
    }

    /// `<id> <STATUS>` rows.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        id_state_rows(stdout, |_| true, openstack_state)
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        let mut argv = self.openstack();
        argv.push("delete".into());
        argv.extend(ids.iter().cloned());
        argv
    }
}

/// Microsoft Azure (Parsl's `AzureProvider` parameters): one VM per block through the
/// `az` CLI (the user's own `az login` or environment credentials).
#[derive(Debug, Clone, Default)]
pub struct Azure {
    pub resource_group: String,
    pub location: String,
    /// `publisher:offer:sku:version`.
    pub image: String,
    pub vm_size: String,
    pub disk_size_gb: Option<u32>,
    pub admin_username: String,
    /// An SSH public key file for the admin user; without one, az makes a key pair.
    pub key_file: Option<String>,
    pub vnet_name: Option<String>,
    pub linger: bool,
}

/// A VM's `powerState`, and its `provisioningState` when that failed.
pub fn azure_state(power: &str, provisioning: &str) -> JobState {
    if provisioning == "Failed" {
        return JobState::Failed;
    }
    match power {
        "VM running" => JobState::Running,
        "VM starting" | "" => JobState::Pending,
        "VM stopping" | "VM stopped" | "VM deallocating" | "VM deallocated" => JobState::Completed,
        _ => JobState::Unknown,
    }
}

impl Azure {
    fn az(&self) -> Vec<String> {
        vec!["az".into(), "vm".into()]
    }
}

impl Scheduler for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        vec![(job.path(".custom-data"), vm_script(spec, &job.name, command, self.linger))]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        let mut argv = self.az();
        argv.extend([
            "create".into(),
            "--resource-group".into(),
            self.resource_group.clone(),
            "--name".into(),
            instance_name(&job_name(submit_file, ".custom-data")),
            "--location".into(),
            self.location.clone(),
            "--image".into(),
            self.image.clone(),
            "--size".into(),
            self.vm_size.clone(),
            "--admin-username".into(),
            self.admin_username.clone(),
            "--custom-data".into(),
            submit_file.display().to_string(),
            "--tags".into(),
            "chervil=block".into(),
            // Without these, `az vm delete` leaves the disk and NIC behind, still billed.
            "--os-disk-delete-option".into(),
            "Delete".into(),
            "--nic-delete-option".into(),
            "Delete".into(),
        ]);
        match &self.key_file {
            Some(key) => argv.extend(["--authentication-type".into(), "ssh".into(), "--ssh-key-values".into(), key.clone()]),
            None => argv.push("--generate-ssh-keys".into()),
        }
        if let Some(gb) = self.disk_size_gb {
            argv.extend(["--os-disk-size-gb".into(), gb.to_string()]);
        }
        if let Some(vnet) = &self.vnet_name {
            argv.extend(["--vnet-name".into(), vnet.clone()]);
        }
        argv.extend(["--query".into(), "id".into(), "--output".into(), "tsv".into()]);
        argv
    }

    /// `--query id -o tsv` prints the VM's resource id alone.
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().map(str::trim).find(|l| l.starts_with("/subscriptions/")).map(str::to_string)
    }

    fn status_lists_all(&self) -> bool {
        true
    }

    fn status_argv(&self, _spec: &BlockSpec, _ids: &[&str]) -> Vec<String> {
        let mut argv = self.az();
        argv.extend([
            "list".into(),
            "--resource-group".into(),
            self.resource_group.clone(),
            "--show-details".into(),
            "--query".into(),
            "[?tags.chervil=='block'].[id, powerState, provisioningState]".into(),
            "--output".into(),
            "tsv".into(),
        ]);
        argv
    }

    /// Tab-separated `id  powerState  provisioningState` rows (the power state has a space).
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        stdout
            .lines()
            .filter_map(|l| {
                let mut c = l.split('\t').map(str::trim);
                let id = c.next().filter(|id| id.starts_with("/subscriptions/"))?;
                let (power, provisioning) = (c.next().unwrap_or(""), c.next().unwrap_or(""));
                let note = if provisioning == "Failed" { "provisioning failed".to_string() } else { String::new() };
                Some((id.to_string(), (azure_state(power, provisioning), note)))
            })
            .collect()
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        let mut argv = self.az();
        argv.extend(["delete".into(), "--yes".into(), "--ids".into()]);
        argv.extend(ids.iter().cloned());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_what_compute_engine_accepts() {
        assert_eq!(instance_name("chervil.auto.1732.25"), "chervil-auto-1732-25");
        assert_eq!(instance_name("7up"), "c-7up");
        let long = instance_name(&format!("{}.99", "x".repeat(100)));
        assert!(long.len() <= 63 && long.ends_with("-99") && long.starts_with('x'), "{long}");
    }

    #[test]
    fn the_vm_powers_off_after_its_pool_and_its_walltime() {
        let spec = BlockSpec { walltime: "01:00:00".into(), worker_init: "source env.sh".into(), ..Default::default() };
        let s = vm_script(&spec, "b1", "pool --x", false);
        assert!(s.contains("sleep 3600; shutdown -h now"), "{s}");
        assert!(s.trim_end().ends_with("shutdown -h now"), "{s}");
        assert!(!vm_script(&spec, "b1", "pool", true).contains("shutdown"));
    }
}
