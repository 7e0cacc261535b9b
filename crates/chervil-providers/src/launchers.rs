//! Launchers: the pool command → the command a block's job runs.

/// Starts `tasks_per_node × nodes_per_block` copies of `command` on this node, in the
/// background, and waits for them. The job fails when every copy fails (or, with
/// `fail_on_any`, when any does), so a block whose pools cannot start shows as failed.
pub fn single_node(command: &str, tasks_per_node: u32, nodes_per_block: u32, fail_on_any: bool, debug: bool) -> String {
    let copies = tasks_per_node.max(1) * nodes_per_block.max(1);
    let say = |what: &str| if debug { format!("echo \"{what}\"\n") } else { String::new() };
    format!(
        r#"export CORES=$(getconf _NPROCESSORS_ONLN)
{found}WORKERCOUNT={copies}
FAILONANY={fail}
PIDS=""
CMD() {{
{command}
}}
for COUNT in $(seq 1 1 $WORKERCOUNT); do
{launching}    CMD $COUNT &
    PIDS="$PIDS $!"
done
ALLFAILED=1
ANYFAILED=0
for PID in $PIDS ; do
    if wait $PID; then ALLFAILED=0; else ANYFAILED=1; fi
done
{done_}if [ "$FAILONANY" == "1" ]; then exit $ANYFAILED; else exit $ALLFAILED; fi
"#,
        found = say("Found cores : $CORES"),
        fail = u8::from(fail_on_any),
        launching = if debug { "    echo \"Launching worker: $COUNT\"\n".to_string() } else { String::new() },
        done_ = say("All workers done"),
    )
}

/// The parts every "hand the command to a parallel runner" launcher shares: the
/// pool command goes to a file only its owner can read (it carries the run's
/// secret), in `dir` (shared with the other nodes), `run` starts the copies (it
/// names the file `$CHERVIL_CMD_FILE`), and the file is removed when they are done.
/// The job's exit status is the runner's. `dir` is the client's script directory:
/// when the node does not have it (not on a shared file system) — or it is empty —
/// the file goes to the job's working directory instead, as in Parsl.
///
/// The files a job makes (this one, GNU parallel's job log, the host file) go on
/// exit of any kind the shell sees: a cancelled block gets SIGTERM first, and
/// bash runs its EXIT trap then too, so cancelled blocks leave no files behind. The
/// trap is set in a subshell of its own, so an EXIT trap of the user's `worker_init`
/// still runs as well.
fn via_cmd_file(command: &str, dir: &str, preamble: &str, run: &str, debug: bool) -> String {
    let say = |what: &str| if debug { format!("echo \"{what}\"\n") } else { String::new() };
    let dir = double_quoted(dir);
    // Parsl's lines for the directory (its tests look for them), then an absolute
    // path, so runners that start elsewhere find the file.
    format!(
        r#"(
trap 'rm -f ${{CHERVIL_CMD_FILE:+"$CHERVIL_CMD_FILE" "$CHERVIL_CMD_FILE.joblog"}} ${{CHERVIL_HOSTFILE:+"$CHERVIL_HOSTFILE"}}' EXIT
{preamble}SCRIPT_DIR={dir}
[[ -d $SCRIPT_DIR ]] || SCRIPT_DIR=""
CHERVIL_CMD_FILE=$(umask 077 && mktemp "${{SCRIPT_DIR:+$SCRIPT_DIR/}}cmd_${{JOBNAME:-block}}.XXXXXX")
case $CHERVIL_CMD_FILE in /*) ;; *) CHERVIL_CMD_FILE="$PWD/$CHERVIL_CMD_FILE" ;; esac
cat > "$CHERVIL_CMD_FILE" <<'CHERVIL_CMD_EOF'
{command}
CHERVIL_CMD_EOF
{run}
STATUS=$?
{done_}exit $STATUS
)
"#,
        done_ = say("All workers done"),
    )
}

/// `s` in double quotes, with what bash would expand there escaped: read back as is.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The job's distinct nodes, one per line, into `$CHERVIL_HOSTFILE`: from PBS's
/// or Cobalt's node file, else Slurm's node list, else this host (`local` is how the runner
/// names it: `localhost` for MPI, `:` for GNU parallel). Part of a `via_cmd_file`
/// preamble, whose exit trap removes the file.
fn hostfile(local: &str) -> String {
    format!(
        r#"CHERVIL_HOSTFILE=$(umask 077 && mktemp "${{TMPDIR:-/tmp}}/hosts_${{JOBNAME:-block}}.XXXXXX")
if [ -n "$PBS_NODEFILE" ]; then sort -u "$PBS_NODEFILE" > "$CHERVIL_HOSTFILE"
elif [ -n "$COBALT_NODEFILE" ]; then sort -u "$COBALT_NODEFILE" > "$CHERVIL_HOSTFILE"
elif [ -n "$SLURM_JOB_NODELIST" ] && command -v scontrol >/dev/null; then scontrol show hostnames "$SLURM_JOB_NODELIST" > "$CHERVIL_HOSTFILE"
else echo "{local}" > "$CHERVIL_HOSTFILE"; fi
"#
    )
}

fn copies(tasks_per_node: u32, nodes_per_block: u32) -> u32 {
    tasks_per_node.max(1) * nodes_per_block.max(1)
}

fn cores(debug: bool, from: &str) -> String {
    let mut s = format!("export CORES={from}\n");
    if debug {
        s.push_str("echo \"Found cores : $CORES\"\n");
    }
    s
}

/// `srun` runs the copies as tasks of the job's own allocation (Parsl's `SrunLauncher`).
pub fn srun(command: &str, tasks_per_node: u32, nodes_per_block: u32, overrides: &str, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    let pre = cores(debug, "$SLURM_CPUS_ON_NODE") + "export NODES=$SLURM_JOB_NUM_NODES\n";
    via_cmd_file(command, dir, &pre, &format!(r#"srun --ntasks={n} -l {overrides} bash "$CHERVIL_CMD_FILE""#), debug)
}

/// One `srun` per copy, each with its share of the allocation, so each pool can
/// start MPI applications of its own (Parsl's `SrunMPILauncher`): more copies
/// than nodes share the cores; fewer get whole nodes each.
pub fn srun_mpi(command: &str, tasks_per_node: u32, nodes_per_block: u32, overrides: &str, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    let pre = cores(debug, "$SLURM_CPUS_ON_NODE") + "export NODES=$SLURM_JOB_NUM_NODES\n";
    let run = format!(
        r#"COPIES={n}
if [ "$COPIES" -gt "$NODES" ]; then
    PER_COPY=$(( NODES * CORES / COPIES )); [ "$PER_COPY" -ge 1 ] || PER_COPY=1
    for i in $(seq 1 $COPIES); do srun --ntasks=1 --cpus-per-task=$PER_COPY -l {overrides} bash "$CHERVIL_CMD_FILE" & done
else
    PER_COPY=$(( NODES / COPIES ))
    for i in $(seq 1 $COPIES); do srun --exclusive --nodes=$PER_COPY -l {overrides} bash "$CHERVIL_CMD_FILE" & done
fi
FAILED=0
for job in $(jobs -p); do wait $job || FAILED=1; done
[ $FAILED = 0 ]"#
    );
    via_cmd_file(command, dir, &pre, &run, debug)
}

/// Cray's `aprun` (Parsl's `AprunLauncher`).
pub fn aprun(command: &str, tasks_per_node: u32, nodes_per_block: u32, overrides: &str, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    via_cmd_file(command, dir, "", &format!(r#"aprun -n {n} -N {tasks_per_node} {overrides} /bin/bash "$CHERVIL_CMD_FILE""#), debug)
}

/// IBM LSF's `jsrun` (Parsl's `JsrunLauncher`).
pub fn jsrun(command: &str, tasks_per_node: u32, nodes_per_block: u32, overrides: &str, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    via_cmd_file(command, dir, "", &format!(r#"jsrun -n {n} -r {tasks_per_node} {overrides} /bin/bash "$CHERVIL_CMD_FILE""#), debug)
}

/// `mpiexec` over the job's nodes (Parsl's `MpiExecLauncher`): `bind_cmd none`
/// keeps each pool free to place its own workers.
pub fn mpiexec(command: &str, tasks_per_node: u32, nodes_per_block: u32, bind_cmd: &str, overrides: &str, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    let pre = cores(debug, "$(getconf _NPROCESSORS_ONLN)") + &hostfile("localhost");
    let run = format!(r#"mpiexec {bind_cmd} none {overrides} -n {n} --hostfile "$CHERVIL_HOSTFILE" bash "$CHERVIL_CMD_FILE""#);
    via_cmd_file(command, dir, &pre, &run, debug)
}

/// `mpirun -np` (Parsl's `MpiRunLauncher`).
pub fn mpirun(command: &str, tasks_per_node: u32, nodes_per_block: u32, bash_location: &str, overrides: &str, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    let pre = cores(debug, "$(getconf _NPROCESSORS_ONLN)");
    via_cmd_file(command, dir, &pre, &format!(r#"mpirun -np {n} {overrides} {bash_location} "$CHERVIL_CMD_FILE""#), debug)
}

/// GNU parallel over ssh to the job's nodes, all copies at once spread evenly
/// (`tasks_per_node` on each when every node is listed; Parsl's
/// `GnuParallelLauncher`); on a single node it needs no ssh. The job's
/// PATH, PYTHONPATH and VIRTUAL_ENV travel to the other nodes (`worker_init` ran
/// only on the first).
pub fn gnu_parallel(command: &str, tasks_per_node: u32, nodes_per_block: u32, dir: &str, debug: bool) -> String {
    let n = copies(tasks_per_node, nodes_per_block);
    let pre = cores(debug, "$(getconf _NPROCESSORS_ONLN)") + &hostfile(":");
    let run = format!(
        r#"HOSTS=$(wc -l < "$CHERVIL_HOSTFILE"); PER_HOST=$(( ({n} + HOSTS - 1) / HOSTS ))
for i in $(seq 1 {n}); do echo "bash $CHERVIL_CMD_FILE"; done | parallel --will-cite --env PATH --env PYTHONPATH --env VIRTUAL_ENV --halt never --jobs $PER_HOST --sshloginfile "$CHERVIL_HOSTFILE" --joblog "$CHERVIL_CMD_FILE.joblog""#
    );
    via_cmd_file(command, dir, &pre, &run, debug)
}

/// `prepend command`, once (Parsl's `WrappedLauncher`: for `time`, a container
/// runner, `numactl`, …).
///
/// An executor's line `export VARS && pool command` keeps its exports in front, so the
/// prefix (a container runtime, `env`, `time`) wraps the pool, not `export`.
pub fn wrapped(command: &str, prepend: &str) -> String {
    let prepend = prepend.trim();
    if prepend.is_empty() {
        return command.to_string();
    }
    match command.strip_prefix("export ").and_then(|rest| rest.split_once(" && ")) {
        Some((vars, pool)) => format!("export {vars} && {prepend} {pool}"),
        None => format!("{prepend} {command}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> std::process::Output {
        std::process::Command::new("bash").arg("-c").arg(script).env("JOBNAME", "t").output().expect("bash runs")
    }

    fn lines(out: &std::process::Output) -> Vec<String> {
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
        v.sort();
        v
    }

    /// A tool these tests run for real: present here, or the test says why it is
    /// skipped; in CI (`CI` set) its absence fails the test, since .ci/run installs it.
    fn have(tool: &str) -> bool {
        let found = std::process::Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success());
        if !found {
            assert!(std::env::var_os("CI").is_none(), "{tool} is not installed; `make system-deps` installs it");
            eprintln!("skipped: {tool} is not installed (make system-deps)");
        }
        found
    }

    #[test]
    fn single_node_runs_each_copy_and_reports_failure() {
        let out = run(&single_node("echo copy $1", 3, 1, false, false));
        assert!(out.status.success());
        assert_eq!(lines(&out), ["copy 1", "copy 2", "copy 3"]);
        // all fail → the job fails; one fails → only with fail_on_any
        assert!(!run(&single_node("false", 2, 1, false, false)).status.success());
        let one_fails = "[ \"$1\" != 1 ]";
        assert!(run(&single_node(one_fails, 2, 1, false, false)).status.success());
        assert!(!run(&single_node(one_fails, 2, 1, true, false)).status.success());
    }

    #[test]
    fn the_command_file_is_private_and_removed() {
        let dir = std::env::temp_dir().join(format!("chervil-launch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // a stand-in runner: runs the file once, as the real ones do per copy
        let script = via_cmd_file("echo secret-$((6*7))", &dir.display().to_string(), "", r#"stat -c %a "$CHERVIL_CMD_FILE"; bash "$CHERVIL_CMD_FILE""#, false);
        let out = run(&script);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&out), ["600", "secret-42"]);
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0, "the command file was removed");
        let failing = via_cmd_file("true", &dir.display().to_string(), "", "exit 7", false);
        assert_eq!(run(&failing).status.code(), Some(7), "the runner's status is the job's");
        // the client's script directory is not on this node: the job's directory serves
        let job_dir = dir.join("job");
        std::fs::create_dir_all(&job_dir).expect("job dir");
        let elsewhere = via_cmd_file("echo ran", "/no/such/dir on this node", "", r#"dirname "$CHERVIL_CMD_FILE"; bash "$CHERVIL_CMD_FILE""#, false);
        let out = std::process::Command::new("bash").arg("-c").arg(&elsewhere).current_dir(&job_dir).output().expect("bash runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&out), [job_dir.display().to_string(), "ran".to_string()]);
        assert_eq!(std::fs::read_dir(&job_dir).expect("dir").count(), 0, "removed there too");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_job_leaves_no_files() {
        use std::io::Read;
        use std::os::unix::process::CommandExt;
        let dir = std::env::temp_dir().join(format!("chervil-cancel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // the runner says it started, then waits as a pool does until the block is cancelled
        let pre = hostfile("localhost");
        // worker_init's own EXIT trap, which the launcher's must not replace
        let user_trap = format!("trap 'touch {}/user-trap-ran' EXIT\n", dir.display());
        let script = user_trap + &via_cmd_file("true", &dir.display().to_string(), &pre, "sleep 60 & echo started; wait", false);
        let mut job = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("TMPDIR", &dir)
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let mut out = job.stdout.take().expect("stdout");
        let mut first = [0u8; 8];
        out.read_exact(&mut first).expect("the job starts");
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 2, "the command file and the host file exist while it runs");
        // Every process of the job holds its output: its end is the last one gone, the
        // launcher's subshell (whose trap may run after the job's own shell has exited)
        // included.
        let (gone, all_gone) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = out.read_to_end(&mut Vec::new());
            let _ = gone.send(());
        });
        // As LocalProvider cancels: SIGTERM to the job's process group, then SIGKILL to what
        // is left after a grace. (A child a shell was forking when SIGTERM came can miss it:
        // bash catches the signal for its EXIT trap, and the child's exec drops it.)
        let pgid = i32::try_from(job.id()).expect("pid");
        // SAFETY: signals the process group this test created.
        unsafe { libc::killpg(pgid, libc::SIGTERM) };
        if all_gone.recv_timeout(std::time::Duration::from_secs(10)).is_err() {
            // SAFETY: as above.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
            let _ = all_gone.recv();
        }
        let _ = job.wait();
        let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").filter_map(Result::ok).map(|e| e.file_name()).collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(left, ["user-trap-ran"], "only the user's trap's file");
    }

    #[test]
    fn gnu_parallel_really_runs_every_copy() {
        if !have("parallel") {
            return;
        }
        let out = run(&gnu_parallel("echo copy", 2, 2, "", false));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&out), ["copy", "copy", "copy", "copy"]);
        assert!(!run(&gnu_parallel("exit 3", 1, 1, "", false)).status.success());
    }

    #[test]
    fn mpiexec_and_mpirun_really_run_every_rank() {
        if !have("mpiexec") {
            return;
        }
        // Each rank lives a moment, as a pool does: MPICH's Hydra (4.0) dies of SIGPIPE now
        // and then when every rank of a job exits at once on a busy machine (its control
        // socket to the proxy is gone; 1 run in 5 with both cores busy, never with 0.3 s).
        let rank = "echo rank ${PMI_RANK:-$OMPI_COMM_WORLD_RANK}; sleep 0.3";
        let out = run(&mpiexec(rank, 3, 1, "--bind-to", "", "", false));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&out), ["rank 0", "rank 1", "rank 2"]);
        let out = run(&mpirun(rank, 2, 1, "/bin/bash", "", "", false));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&out), ["rank 0", "rank 1"]);
        assert!(!run(&mpiexec("exit 3", 1, 1, "--bind-to", "", "", false)).status.success());
    }

    #[test]
    fn the_hostfile_reads_pbs_and_cobalt_node_files() {
        let dir = std::env::temp_dir().join(format!("chervil-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let nodes = dir.join("nodes");
        std::fs::write(&nodes, "nid01\nnid00\nnid01\n").expect("node file");
        for var in ["PBS_NODEFILE", "COBALT_NODEFILE"] {
            let script = hostfile("localhost") + r#"cat "$CHERVIL_HOSTFILE"; rm -f "$CHERVIL_HOSTFILE""#;
            let out = std::process::Command::new("bash").arg("-c").arg(&script).env(var, &nodes).env("TMPDIR", &dir).output().expect("bash runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), "nid00\nnid01\n", "{var}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cray_and_lsf_runners_get_their_counts() {
        // aprun and jsrun exist only on those machines: the script must call them
        // with the copies and per-node counts, as Parsl's launchers do.
        let a = aprun("pool", 4, 2, "--cc none", "/shared/run", false);
        assert!(a.contains(r#"aprun -n 8 -N 4 --cc none /bin/bash "$CHERVIL_CMD_FILE""#), "{a}");
        assert!(a.contains("SCRIPT_DIR=\"/shared/run\"\n"), "{a}");
        assert_eq!(double_quoted(r#"a "b" $c `d` \e"#), r#""a \"b\" \$c \`d\` \\e""#);
        let j = jsrun("pool", 2, 3, "", "", false);
        assert!(j.contains(r#"jsrun -n 6 -r 2  /bin/bash "$CHERVIL_CMD_FILE""#), "{j}");
        assert!(srun_mpi("pool", 2, 1, "", "", false).contains("--cpus-per-task=$PER_COPY"));
        assert_eq!(wrapped("pool --x", "time"), "time pool --x");
        assert_eq!(wrapped("pool", " "), "pool");
        assert_eq!(wrapped("export A=1 B='x y' && pool --x", "apptainer exec img.sif"), "export A=1 B='x y' && apptainer exec img.sif pool --x");
    }
}

/// A launcher and its options, as a value both fronts build from their configs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Launcher {
    /// The command as it is (Parsl's `SimpleLauncher`).
    Simple,
    /// Copies on this node (Parsl's default `SingleNodeLauncher`).
    #[default]
    SingleNode,
    SingleNodeFailOnAny,
    Srun { overrides: String },
    SrunMpi { overrides: String },
    Aprun { overrides: String },
    Jsrun { overrides: String },
    MpiExec { bind_cmd: String, overrides: String },
    MpiRun { bash_location: String, overrides: String },
    GnuParallel,
    Wrapped { prepend: String },
}

impl Launcher {
    /// Parsl's launcher names in snake case (`single_node`, `srun`, `srun_mpi`, `aprun`,
    /// `jsrun`, `mpiexec`, `mpirun`, `gnu_parallel`, `wrapped`, `simple`), with the
    /// options the named one reads.
    pub fn by_name(kind: &str, overrides: &str, fail_on_any: bool, bind_cmd: &str, bash_location: &str, prepend: &str) -> Option<Launcher> {
        let o = || overrides.to_string();
        Some(match kind {
            "simple" => Launcher::Simple,
            "single_node" if fail_on_any => Launcher::SingleNodeFailOnAny,
            "single_node" => Launcher::SingleNode,
            "srun" => Launcher::Srun { overrides: o() },
            "srun_mpi" => Launcher::SrunMpi { overrides: o() },
            "aprun" => Launcher::Aprun { overrides: o() },
            "jsrun" => Launcher::Jsrun { overrides: o() },
            "mpiexec" => Launcher::MpiExec { bind_cmd: bind_cmd.to_string(), overrides: o() },
            "mpirun" => Launcher::MpiRun { bash_location: bash_location.to_string(), overrides: o() },
            "gnu_parallel" => Launcher::GnuParallel,
            "wrapped" => Launcher::Wrapped { prepend: prepend.to_string() },
            _ => return None,
        })
    }

    /// The script that starts `tasks_per_node × nodes_per_block` copies of `command`;
    /// `dir` is where a runner's private command file goes (empty: the job's directory).
    pub fn script(&self, command: &str, tasks_per_node: u32, nodes_per_block: u32, dir: &str, debug: bool) -> String {
        let (c, t, n, d) = (command, tasks_per_node, nodes_per_block, dir);
        match self {
            Launcher::Simple => c.to_string(),
            Launcher::SingleNode => single_node(c, t, n, false, debug),
            Launcher::SingleNodeFailOnAny => single_node(c, t, n, true, debug),
            Launcher::Srun { overrides } => srun(c, t, n, overrides, d, debug),
            Launcher::SrunMpi { overrides } => srun_mpi(c, t, n, overrides, d, debug),
            Launcher::Aprun { overrides } => aprun(c, t, n, overrides, d, debug),
            Launcher::Jsrun { overrides } => jsrun(c, t, n, overrides, d, debug),
            Launcher::MpiExec { bind_cmd, overrides } => mpiexec(c, t, n, bind_cmd, overrides, d, debug),
            Launcher::MpiRun { bash_location, overrides } => mpirun(c, t, n, bash_location, overrides, d, debug),
            Launcher::GnuParallel => gnu_parallel(c, t, n, d, debug),
            Launcher::Wrapped { prepend } => wrapped(c, prepend),
        }
    }
}
