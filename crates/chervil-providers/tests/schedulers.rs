//! The batch providers that cannot run here (PBS Pro, Torque, LSF, HTCondor,
//! Kubernetes, AWS, Google Cloud; and Grid Engine, which also runs live in the
//! Python tests), driven through the real `BatchProvider`: stand-in commands on PATH
//! replay recorded answers (`tests/recorded/`) and log the arguments they got.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use chervil_providers::batch::{BatchProvider, BlockSpec};
use chervil_providers::schedulers::cloud::{Aws, Azure, GoogleCloud, OpenStack};
use chervil_providers::schedulers::kubernetes::Kubernetes;
use chervil_providers::{schedulers, JobState, Scheduler};

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recorded")
}

/// A test's own directory under the build's `target/tmp`, emptied when the test
/// starts and left for a look afterwards: runs leave nothing in the system's /tmp.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sched-{name}"));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Stand-ins for every scheduler tool: `<tool>` prints `$REPLAY_DIR/<tool>.out`
/// (and `<tool>.err` on stderr, exiting with `<tool>.code`), and appends its
/// arguments to `$REPLAY_DIR/calls`. Installed once per test process, first on its
/// PATH, in a directory all of them share: each stand-in is written beside it and renamed
/// into place, so a process never runs one that another is still writing.
fn install_stand_ins() -> PathBuf {
    static ONCE: Once = Once::new();
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sched-bin");
    ONCE.call_once(|| {
        fs::create_dir_all(&bin).expect("bin dir");
        for tool in ["qsub", "qstat", "qdel", "bsub", "bjobs", "bkill", "condor_submit", "condor_q", "condor_rm", "kubectl", "aws", "gcloud", "openstack", "az"] {
            let path = bin.join(tool);
            let body = format!(
                "#!/bin/sh\nd=\"$REPLAY_DIR\"\necho \"{tool} $*\" >> \"$d/calls\"\n\
                 [ -f \"$d/{tool}.out\" ] && cat \"$d/{tool}.out\"\n\
                 [ -f \"$d/{tool}.err\" ] && cat \"$d/{tool}.err\" >&2\n\
                 exit $(cat \"$d/{tool}.code\" 2>/dev/null || echo 0)\n"
            );
            let draft = bin.join(format!(".{tool}.{}", std::process::id()));
            fs::write(&draft, body).expect("stand-in");
            fs::set_permissions(&draft, fs::Permissions::from_mode(0o755)).expect("chmod");
            fs::rename(&draft, &path).expect("stand-in in place");
        }
        let path = std::env::var("PATH").unwrap_or_default();
        // Tests of this binary take turns (TURN), so no other thread reads the
        // environment while it changes.
        std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    });
    bin
}

/// The stand-ins find their answers through `REPLAY_DIR`, which is one for the
/// process: the tests take turns.
static TURN: Mutex<()> = Mutex::new(());

/// A replay directory holding `answers` (tool → recorded file, and optional
/// stderr file and exit code), made the stand-ins' for as long as the guard lives.
/// tool, recorded stdout file, and (recorded stderr file, exit code) where it fails.
type Answer<'a> = (&'a str, &'a str, Option<(&'a str, i32)>);

fn replay(name: &str, answers: &[Answer<'_>]) -> (MutexGuard<'static, ()>, PathBuf) {
    let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    install_stand_ins();
    let d = scratch(name);
    for (tool, out, err) in answers {
        fs::copy(recorded().join(out), d.join(format!("{tool}.out"))).expect("recorded answer");
        if let Some((err, code)) = err {
            fs::copy(recorded().join(err), d.join(format!("{tool}.err"))).expect("recorded error");
            fs::write(d.join(format!("{tool}.code")), code.to_string()).expect("code");
        }
    }
    std::env::set_var("REPLAY_DIR", &d);
    (turn, d)
}

fn spec() -> BlockSpec {
    BlockSpec { nodes_per_block: 2, walltime: "01:30:00".into(), cmd_timeout: Duration::from_secs(10), ..Default::default() }
}

fn provider(kind: &str, spec: BlockSpec, dir: &Path) -> BatchProvider {
    built(schedulers::by_name(kind).expect("known scheduler"), spec, dir)
}

fn built(scheduler: Box<dyn Scheduler>, spec: BlockSpec, dir: &Path) -> BatchProvider {
    BatchProvider::new(scheduler, spec, dir.join("scripts")).expect("valid spec")
}

fn calls(dir: &Path) -> String {
    fs::read_to_string(dir.join("calls")).unwrap_or_default()
}

fn states(p: &mut BatchProvider, ids: &[&str]) -> Vec<JobState> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    p.status(&ids).expect("status").into_iter().map(|s| s.state).collect()
}

fn script(dir: &Path, suffix: &str) -> String {
    let scripts = dir.join("scripts");
    let entry = fs::read_dir(&scripts).expect("scripts").filter_map(Result::ok).find(|e| e.file_name().to_string_lossy().ends_with(suffix)).expect("script written");
    fs::read_to_string(entry.path()).expect("script")
}

#[test]
fn pbs_pro_submits_polls_and_cancels() {
    let (_turn, d) = replay("pbspro", &[("qsub", "pbspro-qsub.txt", None), ("qstat", "pbspro-qstat.txt", None)]);
    let mut s = spec();
    s.cores_per_node = Some(64);
    s.select_options = "mem=128gb".into();
    s.queue = Some("debug".into());
    s.account = Some("proj".into());
    let mut p = provider("pbspro", s, &d);
    let id = p.submit("pool", 1, "chervil.htex.block-0").expect("qsub");
    assert_eq!(id, "4242.pbs01");
    let text = script(&d, ".submit");
    for want in ["#PBS -l select=2:ncpus=64:mem=128gb\n", "#PBS -l walltime=01:30:00\n", "#PBS -q debug\n", "#PBS -A proj\n", "#PBS -N chervil.htex.block-0\n", "\npool\n"] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // the printed id is cut short; the sequence number matches it
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert!(calls(&d).contains("qstat -x 4242.pbs01"), "{}", calls(&d));
    assert_eq!(p.cancel(std::slice::from_ref(&id)).expect("qdel"), [true]);
    assert!(calls(&d).contains("qdel 4242.pbs01"));
    assert_eq!(states(&mut p, &[&id]), [JobState::Cancelled]);
}

#[test]
fn torque_reads_held_jobs_and_survives_unknown_ids() {
    let (_turn, d) = replay("torque", &[("qsub", "torque-qsub.txt", None), ("qstat", "torque-qstat.txt", Some(("torque-qstat.err", 153)))]);
    let mut p = provider("torque", spec(), &d);
    let id = p.submit("pool", 4, "chervil.t.block-0").expect("qsub");
    assert!(script(&d, ".submit").contains("#PBS -l nodes=2:ppn=4\n"));
    // qstat exits 153 for the job that left, yet lists the rest
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
}

#[test]
fn grid_engine_asks_once_for_all_blocks() {
    let (_turn, d) = replay("sge", &[("qsub", "gridengine-qsub.txt", None), ("qstat", "gridengine-qstat.txt", None)]);
    let mut s = spec();
    s.status_batch_size = 1;
    s.queue = Some("all.q".into());
    let mut p = provider("grid_engine", s, &d);
    let id = p.submit("pool", 1, "chervil.g.block-0").expect("qsub");
    assert_eq!(id, "17");
    let text = script(&d, ".submit");
    assert!(text.contains("#$ -l h_rt=01:30:00\n") && text.contains("#$ -q all.q\n"), "{text}");
    assert!(calls(&d).contains("qsub -terse"));
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert_eq!(calls(&d).matches("qstat").count(), 1);
}

#[test]
fn lsf_minutes_projects_and_vanished_jobs() {
    let (_turn, d) = replay("lsf", &[("bsub", "lsf-bsub.txt", None), ("bjobs", "lsf-bjobs.txt", Some(("lsf-bjobs.err", 255)))]);
    let mut s = spec();
    s.account = Some("BIO123".into());
    s.cores_per_block = Some(84);
    s.cores_per_node = Some(42);
    let mut p = provider("lsf", s, &d);
    let id = p.submit("pool", 1, "chervil.l.block-0").expect("bsub");
    assert_eq!(id, "5151");
    let text = script(&d, ".submit");
    for want in ["#BSUB -W 90\n", "#BSUB -P BIO123\n", "#BSUB -n 84\n", "#BSUB -R \"span[ptile=42]\"\n"] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert!(calls(&d).contains("bjobs -noheader -o jobid stat 5151"), "{}", calls(&d));
}

#[test]
fn condor_writes_two_files_and_maps_held_to_failed() {
    let (_turn, d) = replay("condor", &[("condor_submit", "condor-submit.txt", None), ("condor_q", "condor-q.txt", None)]);
    let mut s = spec();
    s.cores_per_node = Some(4);
    s.mem_per_node_gb = Some(8.0);
    s.environment = vec![("OMP_NUM_THREADS".into(), "1".into())];
    s.requirements = "(OpSysMajorVer == 8)".into();
    let mut p = provider("condor", s, &d);
    let id = p.submit("pool", 1, "chervil.c.block-0").expect("condor_submit");
    assert_eq!(id, "777.0");
    let sub = script(&d, ".submit");
    for want in ["machine_count = 2\n", "RequestCpus = 4\n", "RequestMemory = 8192\n", "OMP_NUM_THREADS='1'", "requirements = (OpSysMajorVer == 8)\n", "\nqueue\n"] {
        assert!(sub.contains(want), "missing {want:?} in\n{sub}");
    }
    assert!(script(&d, ".script").contains("export PARSL_CORES=4\n"));
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
}

#[test]
fn a_scheduler_error_is_quoted() {
    let (_turn, d) = replay("qsub-fails", &[]);
    fs::write(d.join("qsub.err"), "qsub: Unknown queue MSG=requested queue not found\n").expect("err");
    fs::write(d.join("qsub.code"), "170").expect("code");
    let mut p = provider("pbspro", spec(), &d);
    let e = p.submit("pool", 1, "chervil.e.block-0").expect_err("qsub fails").to_string();
    assert!(e.contains("requested queue not found") && e.contains("170"), "{e}");
}

#[test]
fn kubernetes_pods_carry_the_block_and_its_limits() {
    let (_turn, d) = replay("kube", &[("kubectl", "kubectl-create.txt", None)]);
    let k = Kubernetes {
        image: "ghcr.io/lab/worker:1".into(),
        namespace: "science".into(),
        init_cpu: "1".into(),
        max_cpu: "2".into(),
        init_mem: "250Mi".into(),
        max_mem: "1Gi".into(),
        extra_limits: vec![("nvidia.com/gpu".into(), "1".into())],
        user_id: Some(1000),
        group_id: Some(100),
        secret: Some("regcred".into()),
        persistent_volumes: vec![("scratch".into(), "/scratch".into())],
        annotations: vec![("team".into(), "bio".into())],
        ..Default::default()
    };
    let mut s = spec();
    s.worker_init = "source /env/bin/activate".into();
    let mut p = built(Box::new(k), s, &d);
    let id = p.submit("pool --say \"hi\"", 1, "chervil.k.block-0").expect("kubectl create");
    assert_eq!(id, "chervil.k.block-0");
    assert!(calls(&d).contains("kubectl create --namespace science -o name -f "), "{}", calls(&d));
    let pod = script(&d, ".pod.json");
    for want in [
        "\"name\": \"chervil.k.block-0\"",
        "\"image\": \"ghcr.io/lab/worker:1\"",
        "source /env/bin/activate\\nexport JOBNAME=chervil.k.block-0\\npool --say \\\"hi\\\"",
        "\"limits\": {\"cpu\": \"2\", \"memory\": \"1Gi\", \"nvidia.com/gpu\": \"1\"}",
        "\"runAsUser\": 1000",
        "\"imagePullSecrets\": [{\"name\": \"regcred\"}]",
        "\"persistentVolumeClaim\": {\"claimName\": \"scratch\"}",
        "\"mountPath\": \"/scratch\"",
        "\"activeDeadlineSeconds\": 5400",
        "\"restartPolicy\": \"Never\"",
        "\"annotations\": {\"team\": \"bio\"}",
    ] {
        assert!(pod.contains(want), "missing {want} in\n{pod}");
    }
    fs::copy(recorded().join("kubectl-get.txt"), d.join("kubectl.out")).expect("get answer");
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert!(calls(&d).contains("kubectl get pods --namespace science --ignore-not-found"), "{}", calls(&d));
    assert_eq!(p.cancel(std::slice::from_ref(&id)).expect("delete"), [true]);
    assert!(calls(&d).contains("kubectl delete pods,secrets --namespace science --ignore-not-found --wait=false chervil.k.block-0"));
}

#[test]
fn kubernetes_carries_the_runs_secret_in_a_secret_never_in_the_pod_spec() {
    use chervil_providers::schedulers::kubernetes::take_secrets;
    let k = Kubernetes { image: "python:3.11".into(), namespace: "lab".into(), ..Default::default() };
    let line = "export CHERVIL_POOL_TOKEN=00ff CHERVIL_POOL_CERT_SHA256=abcd CHERVIL_PARSL_ALIAS=1 && python -m chervil.pool --port=1";
    let manifest = k.manifest(&spec(), "chervil.k.block-0", line);
    let (pod_part, secret_part) = {
        let at = manifest.find("\"kind\": \"Pod\"").expect("a pod");
        (&manifest[at..], &manifest[..at])
    };
    assert!(!pod_part.contains("00ff") && !pod_part.contains("abcd"), "{manifest}");
    assert!(pod_part.contains("export CHERVIL_PARSL_ALIAS=1 && python -m chervil.pool --port=1"), "{manifest}");
    assert!(pod_part.contains("\"envFrom\": [{\"secretRef\": {\"name\": \"chervil.k.block-0\"}}]"), "{manifest}");
    assert!(secret_part.contains("\"kind\": \"Secret\"") && secret_part.contains("\"CHERVIL_POOL_TOKEN\": \"00ff\""), "{manifest}");
    assert!(manifest.starts_with("{\"apiVersion\": \"v1\", \"kind\": \"List\""), "{manifest}");
    // Only the secret in the export: the export goes away.
    assert_eq!(take_secrets("export CHERVIL_POOL_TOKEN=00 && pool").1, "pool");
    assert_eq!(take_secrets("pool --x").1, "pool --x");
    assert_eq!(k.parse_submit("secret/chervil.k.block-0\npod/chervil.k.block-0\n").as_deref(), Some("chervil.k.block-0"));
}

#[test]
fn kubernetes_reads_every_phase_and_names_pods_as_kubernetes_wants() {
    use chervil_providers::schedulers::kubernetes::{pod_name, pod_phase};
    let k = Kubernetes::default();
    let seen = k.parse_status(&fs::read_to_string(recorded().join("kubectl-get.txt")).expect("recorded"));
    assert_eq!(seen["chervil.k.block-1"].0, JobState::Pending);
    assert_eq!(seen["chervil.k.block-2"], (JobState::Failed, "DeadlineExceeded".to_string()));
    assert_eq!(pod_phase("Succeeded"), JobState::Completed);
    assert_eq!(pod_name("Chervil_HTEX.block-0."), "chervil-htex.block-0");
    // Each part is a label of its own: no empty part, none over 63, none ending in '-'.
    let long = "x".repeat(70);
    assert_eq!(pod_name(&format!("a..-b-.{long}_!.c")), format!("a.b.{}.c", "x".repeat(63)));
    assert_eq!(pod_name("..!!.."), "chervil-block");
}

#[test]
fn dns_names_follow_rfc_1123_as_parsl_sanitizes_them() {
    use chervil_providers::schedulers::kubernetes::{dns_label, dns_subdomain};
    assert_eq!(dns_label("--Leading and  TRAILING--"), "leading-and-trailing");
    assert_eq!(dns_label("Straße.K\u{212A}"), "stra-e-kk", "lower case as Python's str.lower()");
    assert_eq!(dns_label(&"ab".repeat(40)).len(), 63);
    assert_eq!(dns_label(&format!("{}-b", "a".repeat(62))), "a".repeat(62), "no '-' left at the cut");
    assert_eq!(dns_label("$$$"), "");
    assert_eq!(dns_subdomain("..leading.and.trailing.."), "leading.and.trailing");
    assert_eq!(dns_subdomain("..."), "");
    let name = dns_subdomain(&format!("{}.", "a".repeat(61)).repeat(5));
    assert!(name.len() <= 253 && !name.ends_with('.'), "{name}");
}

#[test]
fn aws_runs_terminates_and_reads_instances() {
    let (_turn, d) = replay("aws", &[("aws", "aws-run-instances.txt", None)]);
    let a = Aws {
        image_id: "ami-0abc".into(),
        key_name: "lab".into(),
        instance_type: "c5.large".into(),
        region: "us-east-2".into(),
        spot_max_bid: 0.05,
        profile: Some("science".into()),
        security_group_ids: vec!["sg-1".into(), "sg-2".into()],
        ..Default::default()
    };
    let mut p = built(Box::new(a), spec(), &d);
    let id = p.submit("pool", 1, "chervil.a.block-0").expect("run-instances");
    assert_eq!(id, "i-0a1b2c3d4e5f60718");
    let c = calls(&d);
    for want in [
        "aws --profile science --region us-east-2 --output text ec2 run-instances --image-id ami-0abc --instance-type c5.large --count 1 --user-data file://",
        "--instance-initiated-shutdown-behavior terminate",
        "Tags=[{Key=Name,Value=chervil.a.block-0},{Key=chervil,Value=block}]",
        "--key-name lab",
        "MarketType=spot,SpotOptions={MaxPrice=0.05}",
        "--security-group-ids sg-1 sg-2",
    ] {
        assert!(c.contains(want), "missing {want} in {c}");
    }
    let data = script(&d, ".user-data");
    assert!(data.contains("sleep 5400; shutdown -h now") && data.contains("\npool\n"), "{data}");
    fs::copy(recorded().join("aws-describe-instances.txt"), d.join("aws.out")).expect("describe answer");
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert!(calls(&d).contains("describe-instances --query Reservations[].Instances[].[InstanceId,State.Name] --instance-ids i-0a1b2c3d4e5f60718"));
    assert_eq!(p.cancel(std::slice::from_ref(&id)).expect("terminate"), [true]);
    assert!(calls(&d).contains("ec2 terminate-instances --instance-ids i-0a1b2c3d4e5f60718"));
}

#[test]
fn aws_treats_an_instance_already_gone_as_ended() {
    let (_turn, d) = replay("aws-gone", &[("aws", "aws-run-instances.txt", None)]);
    let mut p = built(Box::new(Aws { image_id: "ami-0abc".into(), region: "us-east-2".into(), ..Default::default() }), spec(), &d);
    let id = p.submit("pool", 1, "chervil.a.block-0").expect("run-instances");
    fs::write(d.join("aws.out"), "").expect("empty");
    fs::copy(recorded().join("aws-describe-instances.err"), d.join("aws.err")).expect("err");
    fs::write(d.join("aws.code"), "254").expect("code");
    assert_eq!(states(&mut p, &[&id]), [JobState::Completed]);
}

#[test]
fn google_cloud_finds_a_zone_then_creates_lists_and_deletes() {
    let (_turn, d) = replay("gcloud", &[("gcloud", "gcloud-zones.txt", None)]);
    let g = GoogleCloud {
        project_id: "lab-123".into(),
        key_file: "/keys/sa.json".into(),
        region: "us-central1".into(),
        os_project: "debian-cloud".into(),
        os_family: "debian-12".into(),
        instance_type: "n1-standard-1".into(),
        ..Default::default()
    };
    let mut p = built(Box::new(g), spec(), &d);
    // The stand-in answers every call with gcloud.out, so `create` gets the zones
    // too and takes their first line for the instance name; the next submit has a
    // real answer.
    let id = p.submit("pool", 1, "chervil.g.block-0").expect("create");
    let c = calls(&d);
    assert!(c.contains("gcloud --quiet --project lab-123 compute zones list --filter=region~/us-central1$ AND status=UP"), "{c}");
    assert!(c.contains("instances create chervil-g-block-0 --zone us-central1-a"), "{c}");
    assert_eq!(id, "us-central1-a", "the stand-in printed the zones again");
    assert!(script(&d, ".startup").contains("\npool\n"));
    fs::copy(recorded().join("gcloud-create.txt"), d.join("gcloud.out")).expect("create answer");
    let id = p.submit("pool", 1, "chervil.g.block-1").expect("create");
    assert_eq!(id, "chervil-g-block-0");
    assert_eq!(calls(&d).matches("zones list").count(), 1, "the zone is looked up once");
    assert!(calls(&d).contains("instances create chervil-g-block-1 --zone us-central1-a --machine-type n1-standard-1 --image-project debian-cloud --image-family debian-12 --labels=chervil=block --metadata-from-file=startup-script="));
    fs::copy(recorded().join("gcloud-list.txt"), d.join("gcloud.out")).expect("list answer");
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert!(calls(&d).contains("instances list --zones=us-central1-a --filter=labels.chervil=block --format=value(name,status)"));
    assert_eq!(p.cancel(std::slice::from_ref(&id)).expect("delete"), [true]);
    assert!(calls(&d).contains("instances delete chervil-g-block-0 --zone us-central1-a"));
}

#[test]
fn cobalt_submits_with_minutes_and_nodes_and_reads_its_states() {
    let (_turn, d) = replay("cobalt", &[("qsub", "cobalt-qsub.txt", None), ("qstat", "cobalt-qstat.txt", None)]);
    let mut s = spec();
    s.queue = Some("debug-cache-quad".into());
    s.account = Some("Climate".into());
    s.scheduler_options = "--attrs mcdram=cache:numa=quad".into();
    let mut p = provider("cobalt", s, &d);
    let id = p.submit("aprun pool", 1, "chervil.c.block-0").expect("qsub");
    assert_eq!(id, "318822", "the id after qsub's routing messages");
    let c = calls(&d);
    assert!(c.contains("qsub --mode script -n 2 -t 90 -O "), "{c}");
    assert!(c.contains("-q debug-cache-quad -A Climate --attrs mcdram=cache:numa=quad "), "{c}");
    let text = script(&d, ".submit");
    assert!(text.starts_with("#!/bin/bash -el\n") && text.contains("\naprun pool\n"), "{text}");
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    assert!(calls(&d).contains("qstat 318822"));
    let table = schedulers::by_name("cobalt").expect("cobalt").parse_status(&fs::read_to_string(recorded().join("cobalt-qstat.txt")).expect("recorded"));
    let read: Vec<_> = table.iter().map(|(id, (state, _))| (id.as_str(), *state)).collect();
    assert_eq!(read, [("318822", JobState::Running), ("318823", JobState::Pending), ("318824", JobState::Held)]);
    assert_eq!(p.cancel(&["318823".to_string()]).expect("qdel"), [true]);
    assert!(calls(&d).contains("qdel 318823"));
}

#[test]
fn cobalt_queue_rejections_are_quoted() {
    let (_turn, d) = replay("cobalt-queue", &[("qsub", "cobalt-qsub.txt", Some(("cobalt-queue.err", 1)))]);
    fs::write(d.join("qsub.out"), "").expect("no stdout");
    let mut s = spec();
    s.queue = Some("debug-flat".into());
    let mut p = provider("cobalt", s, &d);
    let e = p.submit("pool", 1, "chervil.c.block-0").expect_err("refused").to_string();
    assert!(e.contains("Invalid queue: debug-flat") && e.contains("qsub"), "{e}");
}

fn openstack() -> OpenStack {
    OpenStack {
        cloud: Some("js2".into()),
        image: "Featured-Ubuntu22".into(),
        flavor: "m3.small".into(),
        network: "auto_allocated_network".into(),
        key_name: "lab".into(),
        security_groups: vec!["exosphere".into(), "chervil".into()],
        linger: false,
    }
}

#[test]
fn openstack_creates_lists_and_deletes_servers() {
    let (_turn, d) = replay("openstack", &[("openstack", "openstack-create.txt", None)]);
    let mut p = built(Box::new(openstack()), spec(), &d);
    let id = p.submit("pool", 1, "chervil.o.block-0").expect("server create");
    assert_eq!(id, "6f0c9e52-3b8d-4c1f-9a57-2d1e8b0f4c11");
    let c = calls(&d);
    for want in [
        "openstack --os-cloud js2 server create --image Featured-Ubuntu22 --flavor m3.small --network auto_allocated_network",
        "--key-name lab --security-group exosphere --security-group chervil --user-data ",
        "--property chervil=block -f value -c id chervil.o.block-0",
    ] {
        assert!(c.contains(want), "missing {want} in {c}");
    }
    assert!(script(&d, ".user-data").contains("sleep 5400; shutdown -h now"));
    fs::copy(recorded().join("openstack-list.txt"), d.join("openstack.out")).expect("list answer");
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    let listed = openstack().parse_status(&fs::read_to_string(recorded().join("openstack-list.txt")).expect("recorded"));
    assert_eq!(listed["0d2b7a44-91e3-4f6a-b0c8-55aa1e7d9e20"].0, JobState::Pending);
    assert_eq!(listed["c3a1f0d9-7e22-4b5b-8f10-9b3c2d4e5f66"].0, JobState::Failed, "a server stuck in ERROR is a failed block");
    assert!(calls(&d).contains("server list --property chervil=block -f value -c ID -c Status"));
    assert_eq!(p.cancel(std::slice::from_ref(&id)).expect("delete"), [true]);
    assert!(calls(&d).contains("openstack --os-cloud js2 server delete 6f0c9e52-3b8d-4c1f-9a57-2d1e8b0f4c11"));
}

#[test]
fn openstack_quota_and_flavor_errors_are_quoted() {
    for (err, words) in [("openstack-quota.err", "Quota exceeded for instances"), ("openstack-flavor.err", "No Flavor found for m3.enormous")] {
        let (_turn, d) = replay(err, &[("openstack", "openstack-create.txt", Some((err, 1)))]);
        fs::write(d.join("openstack.out"), "").expect("no stdout");
        let mut p = built(Box::new(openstack()), spec(), &d);
        let e = p.submit("pool", 1, "chervil.o.block-0").expect_err("refused").to_string();
        assert!(e.contains(words) && e.contains("openstack"), "{e}");
    }
}

#[test]
fn azure_creates_vms_reads_power_states_and_deletes() {
    let (_turn, d) = replay("azure", &[("az", "azure-create.txt", None)]);
    let a = Azure {
        resource_group: "science".into(),
        location: "eastus".into(),
        image: "Canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest".into(),
        vm_size: "Standard_D2s_v3".into(),
        disk_size_gb: Some(64),
        admin_username: "chervil".into(),
        key_file: Some("/home/alice/.ssh/id_ed25519.pub".into()),
        vnet_name: Some("lab-vnet".into()),
        linger: false,
    };
    let mut p = built(Box::new(a), spec(), &d);
    let id = p.submit("pool", 1, "chervil.z.block-0").expect("vm create");
    assert!(id.ends_with("/virtualMachines/chervil-z-block-0"), "{id}");
    let c = calls(&d);
    for want in [
        "az vm create --resource-group science --name chervil-z-block-0 --location eastus --image Canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest --size Standard_D2s_v3 --admin-username chervil --custom-data ",
        "--tags chervil=block --os-disk-delete-option Delete --nic-delete-option Delete --authentication-type ssh --ssh-key-values /home/alice/.ssh/id_ed25519.pub --os-disk-size-gb 64 --vnet-name lab-vnet --query id --output tsv",
    ] {
        assert!(c.contains(want), "missing {want} in {c}");
    }
    assert!(script(&d, ".custom-data").contains("\npool\n"));
    fs::copy(recorded().join("azure-list.txt"), d.join("az.out")).expect("list answer");
    assert_eq!(states(&mut p, &[&id]), [JobState::Running]);
    let base = "/subscriptions/0a1b2c3d-0000-1111-2222-333344445555/resourceGroups/science/providers/Microsoft.Compute/virtualMachines/chervil-z-block-";
    let listed = Azure::default().parse_status(&fs::read_to_string(recorded().join("azure-list.txt")).expect("recorded"));
    assert_eq!(listed[&format!("{base}1")].0, JobState::Pending, "still being created");
    assert_eq!(listed[&format!("{base}2")], (JobState::Failed, "provisioning failed".to_string()));
    assert!(calls(&d).contains("az vm list --resource-group science --show-details --query [?tags.chervil=='block'].[id, powerState, provisioningState] --output tsv"));
    assert_eq!(p.cancel(std::slice::from_ref(&id)).expect("delete"), [true]);
    assert!(calls(&d).contains(&format!("az vm delete --yes --ids {id}")));
}

#[test]
fn azure_quota_errors_are_quoted() {
    let (_turn, d) = replay("azure-quota", &[("az", "azure-create.txt", Some(("azure-quota.err", 1)))]);
    fs::write(d.join("az.out"), "").expect("no stdout");
    let a = Azure { resource_group: "science".into(), location: "eastus".into(), admin_username: "u".into(), ..Default::default() };
    let mut p = built(Box::new(a), spec(), &d);
    let e = p.submit("pool", 1, "chervil.z.block-0").expect_err("refused").to_string();
    assert!(e.contains("QuotaExceeded") && e.contains("az vm create"), "{e}");
    assert!(calls(&d).contains("--generate-ssh-keys"), "no key file: az makes a key pair");
}
