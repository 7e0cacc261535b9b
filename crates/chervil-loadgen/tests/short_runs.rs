//! Short runs of both tools (the full ones are benchmarks: `make loadgen`).

use std::process::Command;

fn json_number(json: &str, key: &str) -> f64 {
    let at = json.find(&format!("\"{key}\": ")).unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    let rest = rest.trim_start_matches('[');
    let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
    rest[..end].trim().parse().unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

#[test]
fn fake_pools_get_every_task_and_a_silent_one_is_given_up_in_time() {
    let out = Command::new(env!("CARGO_BIN_EXE_chervil-loadgen"))
        // Margins for a loaded CI machine (the fuzz tests run beside this one): a heartbeat
        // every second, lost after four of silence.
        .args(["--pools", "40", "--workers", "8", "--tasks", "50000", "--heartbeat-period", "1", "--heartbeat-threshold", "4", "--idle-s", "5", "--silent", "3"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_number(&stdout, "pools_lost_unexpectedly"), 0.0, "{stdout}");
    assert_eq!(json_number(&stdout, "silent_noticed"), 3.0, "{stdout}");
    // The first of the pair is when the first silent pool was given up.
    let first = json_number(&stdout, "silent_noticed_after_s");
    assert!(first <= 4.0 + 1.0, "noticed after {first} s: {stdout}");
    assert_eq!(json_number(&stdout, "results_sent"), 50000.0, "{stdout}");
    assert!(json_number(&stdout, "max_gap_from_interchange_s") < 2.5, "a heartbeat came late: {stdout}");
}

#[test]
fn the_simulator_loses_no_task_at_a_hundred_thousand_workers() {
    let out = Command::new(env!("CARGO_BIN_EXE_chervil-sim"))
        .args(["--pools", "400", "--workers", "256", "--tasks", "300000", "--blocks", "1000", "--scale-tasks", "300000"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_number(&stdout, "tasks"), 300000.0);
    assert!(json_number(&stdout, "virtual_s_back_to_min") > 0.0, "the blocks never came back down: {stdout}");
}
