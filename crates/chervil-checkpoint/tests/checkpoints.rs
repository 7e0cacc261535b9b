//! Checkpoints on a real file system: every mode, crash leftovers, damage, merging.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chervil_checkpoint::{load_dirs, CheckpointError, Checkpointer, Policy};

/// A test's own directory under the build's `target/tmp`, removed when the test starts
/// and left for a look afterwards: runs leave nothing in the system's /tmp.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ckpt-{name}"));
    let _ = fs::remove_dir_all(&d);
    d
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir).map(|r| r.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn task_exit_writes_each_task_at_once() {
    let dir = scratch("task-exit");
    let c = Checkpointer::open(dir.clone(), Policy::TaskExit).expect("open");
    c.record("h1".into(), b"r1".to_vec());
    // no close: as if the client were killed now
    let table = load_dirs(std::slice::from_ref(&dir)).expect("load");
    assert_eq!(table.get("h1").map(Vec::as_slice), Some(&b"r1"[..]));
    c.record("h2".into(), b"r2".to_vec());
    assert_eq!(load_dirs(&[dir]).expect("load").len(), 2);
}

#[test]
fn a_failed_write_keeps_its_tasks_for_the_next_one_and_leaves_no_partial_file() {
    let dir = scratch("blocked");
    let mut c = Checkpointer::open(dir.join("checkpoint"), Policy::TaskExit).expect("open");
    // A file where the directory should be: every write fails, as on a full disk.
    fs::write(&dir, b"in the way").expect("blocker");
    c.record("h1".into(), b"r1".to_vec());
    c.record("h2".into(), b"r2".to_vec());
    assert_eq!(c.written(), 0);
    fs::remove_file(&dir).expect("unblock");
    c.record("h3".into(), b"r3".to_vec());
    assert_eq!(c.written(), 3, "the two kept back are written with the next");
    assert_eq!(files(&dir.join("checkpoint")), vec!["tasks-00000000.ckpt".to_string()]);
    assert_eq!(load_dirs(&[dir.join("checkpoint")]).expect("load").len(), 3);
    c.close().expect("close");
}

#[test]
fn dfk_exit_and_manual_wait_to_be_asked() {
    let dir = scratch("manual");
    let mut c = Checkpointer::open(dir.clone(), Policy::Manual).expect("open");
    c.record("h1".into(), b"r1".to_vec());
    assert!(files(&dir).is_empty(), "nothing written before checkpoint()");
    assert_eq!(c.checkpoint().expect("checkpoint"), 1);
    c.record("h2".into(), b"r2".to_vec());
    assert_eq!(c.close().expect("close"), 1, "close writes the rest");
    assert_eq!(c.written(), 2);
    assert_eq!(load_dirs(&[dir]).expect("load").len(), 2);
}

#[test]
fn periodic_writes_from_its_timer() {
    let dir = scratch("periodic");
    let mut c = Checkpointer::open(dir.clone(), Policy::Periodic(Duration::from_millis(20))).expect("open");
    c.record("h1".into(), b"r1".to_vec());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.written() == 0 {
        assert!(std::time::Instant::now() < deadline, "the timer never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.close().expect("close");
    assert_eq!(load_dirs(&[dir]).expect("load").len(), 1);
}

#[test]
fn a_crash_mid_write_leaves_only_a_tmp_file_which_is_ignored() {
    let dir = scratch("crash");
    let mut c = Checkpointer::open(dir.clone(), Policy::TaskExit).expect("open");
    c.record("h1".into(), b"r1".to_vec());
    c.close().expect("close");
    fs::write(dir.join(".tasks-00000001.ckpt.tmp"), b"CHVCKPT\0half a segm").expect("leftover");
    assert_eq!(load_dirs(std::slice::from_ref(&dir)).expect("load").len(), 1);
    // the next run's writer numbers after what is there
    let c = Checkpointer::open(dir.clone(), Policy::TaskExit).expect("reopen");
    c.record("h2".into(), b"r2".to_vec());
    assert!(files(&dir).contains(&"tasks-00000001.ckpt".to_string()), "{:?}", files(&dir));
}

#[test]
fn damaged_segments_are_named_errors() {
    let dir = scratch("damaged");
    let mut c = Checkpointer::open(dir.clone(), Policy::DfkExit).expect("open");
    c.record("h1".into(), vec![7; 100]);
    c.close().expect("close");
    let seg = dir.join("tasks-00000000.ckpt");
    let good = fs::read(&seg).expect("segment");
    fs::write(&seg, &good[..good.len() - 10]).expect("truncate");
    match load_dirs(std::slice::from_ref(&dir)) {
        Err(e @ CheckpointError::Damaged { .. }) => {
            let m = e.to_string();
            assert!(m.contains("tasks-00000000.ckpt") && m.contains("damaged") && m.contains("Remove it"), "{m}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    let mut flipped = good.clone();
    flipped[40] ^= 1;
    fs::write(&seg, flipped).expect("flip");
    assert!(matches!(load_dirs(std::slice::from_ref(&dir)), Err(CheckpointError::Damaged { .. })));
    let e = load_dirs(&[scratch("nowhere")]).expect_err("missing dir");
    assert!(e.to_string().contains("get_all_checkpoints"), "{e}");
}

#[test]
fn many_task_exit_segments_are_merged() {
    let dir = scratch("merge");
    let mut c = Checkpointer::open(dir.clone(), Policy::TaskExit).expect("open");
    for i in 0..600 {
        c.record(format!("h{i}"), i.to_string().into_bytes());
    }
    c.close().expect("close");
    assert!(files(&dir).len() < 300, "{} files", files(&dir).len());
    let table = load_dirs(&[dir]).expect("load");
    assert_eq!(table.len(), 600);
    assert_eq!(table["h599"], b"599");
}

#[test]
fn later_checkpoints_win() {
    let (a, b) = (scratch("run-a"), scratch("run-b"));
    let mut ca = Checkpointer::open(a.clone(), Policy::DfkExit).expect("open");
    ca.record("h".into(), b"old".to_vec());
    ca.close().expect("close");
    let mut cb = Checkpointer::open(b.clone(), Policy::DfkExit).expect("open");
    cb.record("h".into(), b"new".to_vec());
    cb.close().expect("close");
    assert_eq!(load_dirs(&[a, b]).expect("load")["h"], b"new");
}
