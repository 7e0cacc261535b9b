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

/// Runs `tasks_per_node × nodes_per_block` copies of `command` through `srun`, as
/// tasks of the job's own allocation (Parsl's `SrunLauncher`). The command goes to a
/// file only its owner can read, since it carries the run's secret.
pub fn srun(command: &str, tasks_per_node: u32, nodes_per_block: u32, overrides: &str, debug: bool) -> String {
    let copies = tasks_per_node.max(1) * nodes_per_block.max(1);
    let say = |what: &str| if debug { format!("echo \"{what}\"\n") } else { String::new() };
    format!(
        r#"export CORES=$SLURM_CPUS_ON_NODE
export NODES=$SLURM_JOB_NUM_NODES
{found}WORKERCOUNT={copies}
CHERVIL_CMD_FILE="$PWD/cmd_$SLURM_JOB_ID.sh"
(umask 077; cat > "$CHERVIL_CMD_FILE" <<'CHERVIL_CMD_EOF'
{command}
CHERVIL_CMD_EOF
)
srun --ntasks=$WORKERCOUNT -l {overrides} bash "$CHERVIL_CMD_FILE"
STATUS=$?
rm -f "$CHERVIL_CMD_FILE"
{done_}exit $STATUS
"#,
        found = say("Found cores : $CORES, nodes : $NODES"),
        done_ = say("All workers done"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_node_runs_each_copy_and_reports_failure() {
        let run = |script: String| {
            std::process::Command::new("bash").arg("-c").arg(script).output().expect("bash runs")
        };
        let out = run(single_node("echo copy $1", 3, 1, false, false));
        assert!(out.status.success());
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
        lines.sort();
        assert_eq!(lines, ["copy 1", "copy 2", "copy 3"]);
        // all fail → the job fails; one fails → only with fail_on_any
        assert!(!run(single_node("false", 2, 1, false, false)).status.success());
        let one_fails = "[ \"$1\" != 1 ]";
        assert!(run(single_node(one_fails, 2, 1, false, false)).status.success());
        assert!(!run(single_node(one_fails, 2, 1, true, false)).status.success());
    }
}
