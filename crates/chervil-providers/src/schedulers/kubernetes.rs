//! Kubernetes through `kubectl`: one pod per block (a JSON manifest), one `kubectl
//! get pods` for many blocks, `kubectl delete pods`.
//!
//! `kubectl` rather than an API client: it brings the user's kubeconfig, contexts,
//! exec credential plugins and proxies for free, and keeps the engine free of an
//! HTTP/TLS client of its own. Not exercised against a live cluster here: the
//! manifest is checked and recorded `kubectl` answers are replayed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::with_ids;
use crate::batch::{walltime_seconds, BlockSpec, JobFiles, Scheduler};
use crate::JobState;

/// Parsl's `KubernetesProvider` parameters that reach the pod.
#[derive(Debug, Clone, Default)]
pub struct Kubernetes {
    pub image: String,
    pub namespace: String,
    /// Pod name prefix (the job name when empty).
    pub pod_name: String,
    pub init_cpu: String,
    pub max_cpu: String,
    pub init_mem: String,
    pub max_mem: String,
    pub extra_requests: Vec<(String, String)>,
    pub extra_limits: Vec<(String, String)>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub run_as_non_root: bool,
    /// An image pull secret.
    pub secret: Option<String>,
    /// (persistent volume claim, mount path).
    pub persistent_volumes: Vec<(String, String)>,
    pub service_account_name: Option<String>,
    pub annotations: Vec<(String, String)>,
}

/// Parsl's reading of a pod's phase.
pub fn pod_phase(phase: &str) -> JobState {
    match phase {
        "Pending" => JobState::Pending,
        "Running" => JobState::Running,
        "Succeeded" => JobState::Completed,
        "Failed" => JobState::Failed,
        _ => JobState::Unknown,
    }
}

/// `raw` as an RFC 1123 DNS label: lower case, one `-` for each run of anything but a
/// letter or digit, at most 63 characters, no `-` at either end. Empty when nothing of
/// `raw` can be kept. (Parsl's `sanitize_dns_label_rfc1123`, which calls this.)
pub fn dns_label(raw: &str) -> String {
    let mut label = String::with_capacity(raw.len().min(63));
    for c in raw.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && label.ends_with('-')) {
            label.push(c);
        }
    }
    label.truncate(63); // ASCII by now: a char boundary
    label.trim_matches('-').to_string()
}

/// `raw` as an RFC 1123 DNS subdomain: each dot-separated part a [`dns_label`], the
/// parts with nothing to keep dropped, at most 253 characters. Empty when nothing is
/// left. (Parsl's `sanitize_dns_subdomain_rfc1123`, which calls this.)
pub fn dns_subdomain(raw: &str) -> String {
    let mut name = raw.split('.').map(dns_label).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(".");
    name.truncate(253);
    name.trim_matches(|c| c == '.' || c == '-').to_string()
}

/// A name Kubernetes accepts for a pod: [`dns_subdomain`], or `chervil-block` when
/// nothing of `wanted` can be kept.
pub fn pod_name(wanted: &str) -> String {
    let name = dns_subdomain(wanted);
    if name.is_empty() {
        "chervil-block".into()
    } else {
        name
    }
}

/// A JSON string literal.
pub(crate) fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The variables of the executor's launch line (`export A=… B=… && …`) that hold the
/// run's secret or its TLS pin.
pub const SECRET_VARIABLES: [&str; 2] = ["CHERVIL_POOL_TOKEN", "CHERVIL_POOL_CERT_SHA256"];

/// Takes the secret variables out of the launch line's leading `export`: their
/// `(name, value)`s, and the line without them (without the `export` if nothing
/// else was in it). Values are hex, never quoted.
pub fn take_secrets(command: &str) -> (Vec<(String, String)>, String) {
    let Some((exports, rest)) = command.strip_prefix("export ").and_then(|c| c.split_once(" && ")) else {
        return (Vec::new(), command.to_string());
    };
    let mut secrets = Vec::new();
    let mut kept = Vec::new();
    for word in exports.split(' ') {
        match word.split_once('=') {
            Some((name, value)) if SECRET_VARIABLES.contains(&name) => secrets.push((name.to_string(), value.to_string())),
            _ => kept.push(word),
        }
    }
    if secrets.is_empty() {
        return (secrets, command.to_string());
    }
    let kept = kept.join(" ");
    let rest = if kept.trim().is_empty() { rest.to_string() } else { format!("export {kept} && {rest}") };
    (secrets, rest)
}

fn json_map(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{}: {}", json(k), json(v))).collect();
    format!("{{{}}}", items.join(", "))
}

impl Kubernetes {
    fn namespace_args(&self) -> [String; 2] {
        ["--namespace".into(), self.namespace.clone()]
    }

    /// The pod's manifest (JSON, which `kubectl create -f` reads as it reads YAML).
    ///
    /// The run's secret never goes into the pod spec, which anyone allowed to `get
    /// pods` in the namespace can read: it travels in a Secret of the pod's name
    /// (`envFrom`), created with it in one `List` and deleted with it.
    pub fn manifest(&self, spec: &BlockSpec, name: &str, command: &str) -> String {
        let (secrets, command) = take_secrets(command);
        let script = format!("{}\nexport JOBNAME={}\n{command}\n", spec.worker_init, name);
        let mut requests = vec![("cpu".to_string(), self.init_cpu.clone()), ("memory".to_string(), self.init_mem.clone())];
        requests.extend(self.extra_requests.iter().cloned());
        let mut limits = vec![("cpu".to_string(), self.max_cpu.clone()), ("memory".to_string(), self.max_mem.clone())];
        limits.extend(self.extra_limits.iter().cloned());
        let mut container = vec![
            "\"name\": \"block\"".to_string(),
            format!("\"image\": {}", json(&self.image)),
            format!("\"command\": [\"/bin/bash\", \"-c\", {}]", json(&script)),
            format!("\"resources\": {{\"requests\": {}, \"limits\": {}}}", json_map(&requests), json_map(&limits)),
        ];
        if let (Some(uid), Some(gid)) = (self.user_id, self.group_id) {
            container.push(format!("\"securityContext\": {{\"runAsUser\": {uid}, \"runAsGroup\": {gid}, \"runAsNonRoot\": {}}}", self.run_as_non_root));
        }
        if !secrets.is_empty() {
            container.push(format!("\"envFrom\": [{{\"secretRef\": {{\"name\": {}}}}}]", json(name)));
        }
        if !self.persistent_volumes.is_empty() {
            let mounts: Vec<String> = self.persistent_volumes.iter().map(|(claim, path)| format!("{{\"name\": {}, \"mountPath\": {}}}", json(claim), json(path))).collect();
            container.push(format!("\"volumeMounts\": [{}]", mounts.join(", ")));
        }
        let mut pod = vec![format!("\"containers\": [{{{}}}]", container.join(", ")), "\"restartPolicy\": \"Never\"".to_string()];
        let seconds = walltime_seconds(&spec.walltime);
        if seconds > 0 {
            // The block's walltime, as the scheduler would enforce it on a cluster.
            pod.push(format!("\"activeDeadlineSeconds\": {seconds}"));
        }
        if let Some(secret) = &self.secret {
            pod.push(format!("\"imagePullSecrets\": [{{\"name\": {}}}]", json(secret)));
        }
        if let Some(account) = &self.service_account_name {
            pod.push(format!("\"serviceAccountName\": {}", json(account)));
        }
        if !self.persistent_volumes.is_empty() {
            let vols: Vec<String> = self.persistent_volumes.iter().map(|(claim, _)| format!("{{\"name\": {c}, \"persistentVolumeClaim\": {{\"claimName\": {c}}}}}", c = json(claim))).collect();
            pod.push(format!("\"volumes\": [{}]", vols.join(", ")));
        }
        let labels = json_map(&[("app".into(), "chervil".into())]);
        let pod = format!(
            "{{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {{\"name\": {}, \"namespace\": {}, \"labels\": {labels}, \"annotations\": {}}},\n  \"spec\": {{{}}}\n}}",
            json(name),
            json(&self.namespace),
            json_map(&self.annotations),
            pod.join(", "),
        );
        if secrets.is_empty() {
            return pod + "\n";
        }
        let secret = format!(
            "{{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"metadata\": {{\"name\": {}, \"namespace\": {}, \"labels\": {labels}}},\n  \"type\": \"Opaque\",\n  \"stringData\": {}\n}}",
            json(name),
            json(&self.namespace),
            json_map(&secrets),
        );
        format!("{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{secret},\n{pod}\n]}}\n")
    }

    fn name_for(&self, job: &str) -> String {
        if self.pod_name.is_empty() {
            pod_name(job)
        } else {
            // A fixed prefix still needs a unique pod per block: keep the job's serial.
            pod_name(&format!("{}.{}", self.pod_name, job.rsplit('.').next().unwrap_or(job)))
        }
    }
}

impl Scheduler for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        vec![(job.path(".pod.json"), self.manifest(spec, &self.name_for(&job.name), command))]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        let mut argv: Vec<String> = vec!["kubectl".into(), "create".into()];
        argv.extend(self.namespace_args());
        argv.extend(["-o".into(), "name".into(), "-f".into(), submit_file.display().to_string()]);
        argv
    }

    /// `-o name` prints `pod/NAME` (after `secret/NAME` when the block has one).
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().find_map(|l| l.trim().strip_prefix("pod/").filter(|n| !n.is_empty()).map(str::to_string))
    }

    fn status_argv(&self, _spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        let mut head = vec!["kubectl", "get", "pods", "--namespace", &self.namespace, "--ignore-not-found", "--no-headers"];
        head.push("-o");
        head.push("custom-columns=NAME:.metadata.name,PHASE:.status.phase,REASON:.status.reason");
        with_ids(&head, ids, &[])
    }

    /// `NAME PHASE REASON` rows (`<none>` for no reason).
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        stdout
            .lines()
            .filter_map(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                let (name, phase) = (c.first()?, c.get(1)?);
                let reason = c.get(2).filter(|r| **r != "<none>").map(|r| r.to_string()).unwrap_or_default();
                Some((name.to_string(), (pod_phase(phase), reason)))
            })
            .collect()
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        // The block's Secret has the pod's name: `pods,secrets NAME` deletes both.
        with_ids(&["kubectl", "delete", "pods,secrets", "--namespace", &self.namespace, "--ignore-not-found", "--wait=false"], ids, &[])
    }
}
