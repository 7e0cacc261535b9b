//! The kernel driven by plain calls: no threads, no executors, no Python.

use chervil_core::{
    Command, Dependencies, FailCause, Kernel, KernelConfig, KernelError, TaskSpec, TaskState,
};

fn spec(name: &str) -> TaskSpec<'_> {
    TaskSpec { func_name: name, executor: "threads", join: false, memoize: false }
}

fn join_spec(name: &str) -> TaskSpec<'_> {
    TaskSpec { func_name: name, executor: "_parsl_internal", join: true, memoize: false }
}

fn kernel(retries: f64) -> Kernel {
    Kernel::new(KernelConfig { retries, garbage_collect: true })
}

fn launch(task: u64, try_id: u32) -> Command {
    Command::Launch { task, try_id }
}

fn done(task: u64) -> Command {
    Command::Complete { task, state: TaskState::ExecDone }
}

#[test]
fn independent_task_launches_at_once() {
    let mut k = kernel(0.0);
    let (a, cmds) = k.submit(spec("a"), Dependencies::default()).unwrap();
    assert_eq!(a, 0);
    assert_eq!(cmds, [launch(0, 0)]);
    assert_eq!(k.info(a).unwrap().state, TaskState::Launched);
    assert_eq!(k.try_succeeded(a, 0, false).unwrap(), [done(0)]);
    assert_eq!(k.unfinished(), 0);
    assert_eq!(k.count(TaskState::ExecDone), 1);
    assert_eq!(k.records_held(), 0, "a finished task is forgotten when garbage-collecting");
}

#[test]
fn dependant_waits_for_all_dependencies() {
    let mut k = kernel(0.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    let (b, _) = k.submit(spec("b"), Dependencies::default()).unwrap();
    let (c, cmds) = k.submit(spec("c"), Dependencies::on([a, b, a])).unwrap();
    assert!(cmds.is_empty());
    assert_eq!(k.info(c).unwrap().state, TaskState::Pending);
    assert_eq!(k.try_succeeded(a, 0, false).unwrap(), [done(a)]);
    assert_eq!(k.try_succeeded(b, 0, false).unwrap(), [done(b), launch(c, 0)]);
}

#[test]
fn dependency_on_a_finished_and_forgotten_task() {
    let mut k = kernel(0.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    k.try_succeeded(a, 0, false).unwrap();
    let (b, cmds) = k.submit(spec("b"), Dependencies::on([a])).unwrap();
    assert_eq!(cmds, [launch(b, 0)]);

    let (c, _) = k.submit(spec("c"), Dependencies::default()).unwrap();
    k.try_failed(c, 0, 1.0).unwrap();
    let (d, cmds) = k.submit(spec("d"), Dependencies::on([c])).unwrap();
    assert_eq!(
        cmds,
        [Command::Fail { task: d, state: TaskState::DepFail, cause: FailCause::Dependency }],
        "a forgotten failure still fails its late dependants"
    );
}

#[test]
fn failure_propagates_down_a_chain_in_order() {
    let mut k = kernel(0.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    let (b, _) = k.submit(spec("b"), Dependencies::on([a])).unwrap();
    let (c, _) = k.submit(spec("c"), Dependencies::on([b])).unwrap();
    let (other, _) = k.submit(spec("other"), Dependencies::default()).unwrap();
    let cmds = k.try_failed(a, 0, 1.0).unwrap();
    assert_eq!(
        cmds,
        [
            Command::Fail { task: a, state: TaskState::Failed, cause: FailCause::Try },
            Command::Fail { task: b, state: TaskState::DepFail, cause: FailCause::Dependency },
            Command::Fail { task: c, state: TaskState::DepFail, cause: FailCause::Dependency },
        ]
    );
    assert_eq!(k.count(TaskState::DepFail), 2);
    // the kernel keeps working for unrelated tasks
    assert_eq!(k.try_succeeded(other, 0, false).unwrap(), [done(other)]);
    assert_eq!(k.unfinished(), 0);
}

#[test]
fn dependant_of_a_failure_waits_for_its_other_dependencies() {
    // Parsl fails a dependant only once every dependency is final.
    let mut k = kernel(0.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    let (b, _) = k.submit(spec("b"), Dependencies::default()).unwrap();
    let (c, _) = k.submit(spec("c"), Dependencies::on([a, b])).unwrap();
    assert_eq!(k.try_failed(a, 0, 1.0).unwrap().len(), 1);
    assert_eq!(k.info(c).unwrap().state, TaskState::Pending);
    let cmds = k.try_succeeded(b, 0, false).unwrap();
    assert_eq!(cmds[1], Command::Fail { task: c, state: TaskState::DepFail, cause: FailCause::Dependency });
}

#[test]
fn long_failure_cascade_does_not_recurse() {
    let mut k = kernel(0.0);
    let (head, _) = k.submit(spec("n"), Dependencies::default()).unwrap();
    let mut prev = head;
    for _ in 0..200_000 {
        prev = k.submit(spec("n"), Dependencies::on([prev])).unwrap().0;
    }
    let cmds = k.try_failed(head, 0, 1.0).unwrap();
    assert_eq!(cmds.len(), 200_001);
    assert_eq!(k.unfinished(), 0);
    assert_eq!(k.records_held(), 0);
}

#[test]
fn retries_until_the_budget_is_spent() {
    let mut k = kernel(2.0);
    let (a, _) = k.submit(spec("flaky"), Dependencies::default()).unwrap();
    assert_eq!(k.try_failed(a, 0, 1.0).unwrap(), [launch(a, 1)]);
    assert_eq!(k.info(a).unwrap().fail_count, 1);
    assert_eq!(k.try_failed(a, 1, 1.0).unwrap(), [launch(a, 2)]);
    let cmds = k.try_failed(a, 2, 1.0).unwrap();
    assert_eq!(cmds, [Command::Fail { task: a, state: TaskState::Failed, cause: FailCause::Try }]);
    assert_eq!(k.count(TaskState::Failed), 1);
    assert_eq!(k.count(TaskState::FailRetryable), 0);
}

#[test]
fn retry_cost_comes_from_the_handler() {
    let mut k = kernel(3.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    // a cheap failure (cost 0.5) leaves budget; an expensive one (3) spends it
    assert_eq!(k.try_failed(a, 0, 0.5).unwrap(), [launch(a, 1)]);
    assert_eq!(k.try_failed(a, 1, 3.0).unwrap()[0], Command::Fail { task: a, state: TaskState::Failed, cause: FailCause::Try });
    // an infinite (or NaN) cost never retries
    let (b, _) = k.submit(spec("b"), Dependencies::default()).unwrap();
    assert!(matches!(k.try_failed(b, 0, f64::NAN).unwrap()[0], Command::Fail { .. }));
}

#[test]
fn a_retry_that_succeeds_releases_dependants() {
    let mut k = kernel(1.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    let (b, _) = k.submit(spec("b"), Dependencies::on([a])).unwrap();
    assert_eq!(k.try_failed(a, 0, 1.0).unwrap(), [launch(a, 1)]);
    assert_eq!(k.try_succeeded(a, 1, false).unwrap(), [done(a), launch(b, 0)]);
}

#[test]
fn stale_and_misplaced_reports_are_errors_not_state_changes() {
    let mut k = kernel(1.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    k.try_failed(a, 0, 1.0).unwrap();
    assert_eq!(
        k.try_succeeded(a, 0, false),
        Err(KernelError::StaleTry { task: a, reported: 0, current: 1 })
    );
    assert_eq!(k.info(a).unwrap().state, TaskState::Launched);
    let (b, _) = k.submit(spec("b"), Dependencies::on([a])).unwrap();
    assert!(matches!(k.try_succeeded(b, 0, false), Err(KernelError::WrongState { .. })));
    assert_eq!(k.try_succeeded(99, 0, false), Err(KernelError::UnknownTask(99)));
    assert_eq!(
        k.submit(spec("c"), Dependencies::on([1000])).unwrap_err(),
        KernelError::UnknownDependency { task: 2, dependency: 1000 }
    );
    // the failed submit consumed no id and left no trace
    assert_eq!(k.submit(spec("d"), Dependencies::default()).unwrap().0, 2);
}

#[test]
fn external_dependencies_are_counted() {
    let mut k = kernel(0.0);
    let deps = Dependencies { tasks: vec![], external_pending: 2, external_failed: false };
    let (a, cmds) = k.submit(spec("a"), deps).unwrap();
    assert!(cmds.is_empty());
    assert!(k.external_resolved(a, false).unwrap().is_empty());
    assert_eq!(k.external_resolved(a, false).unwrap(), [launch(a, 0)]);
    assert!(matches!(k.external_resolved(a, false), Err(KernelError::WrongState { .. })));

    let deps = Dependencies { tasks: vec![], external_pending: 1, external_failed: false };
    let (b, _) = k.submit(spec("b"), deps).unwrap();
    assert_eq!(
        k.external_resolved(b, true).unwrap(),
        [Command::Fail { task: b, state: TaskState::DepFail, cause: FailCause::Dependency }]
    );
    let deps = Dependencies { tasks: vec![], external_pending: 0, external_failed: true };
    let (c, cmds) = k.submit(spec("c"), deps).unwrap();
    assert_eq!(cmds, [Command::Fail { task: c, state: TaskState::DepFail, cause: FailCause::Dependency }]);
}

#[test]
fn join_waits_for_the_futures_its_body_returned() {
    let mut k = kernel(0.0);
    let (j, cmds) = k.submit(join_spec("outer"), Dependencies::default()).unwrap();
    assert_eq!(cmds, [launch(j, 0)]);
    let (i1, _) = k.submit(spec("inner"), Dependencies::default()).unwrap();
    let (i2, _) = k.submit(spec("inner"), Dependencies::default()).unwrap();
    assert!(matches!(k.try_succeeded(j, 0, false), Err(KernelError::WrongState { .. })));
    assert!(k.join_returned(j, 0, Dependencies::on([i1, i2])).unwrap().is_empty());
    assert_eq!(k.info(j).unwrap().state, TaskState::Joining);
    k.try_succeeded(i1, 0, false).unwrap();
    assert_eq!(k.try_succeeded(i2, 0, false).unwrap(), [done(i2), done(j)]);
}

#[test]
fn join_fails_when_a_joined_future_fails() {
    let mut k = kernel(5.0);
    let (j, _) = k.submit(join_spec("outer"), Dependencies::default()).unwrap();
    let (after, _) = k.submit(spec("after"), Dependencies::on([j])).unwrap();
    let (i, _) = k.submit(spec("inner"), Dependencies::default()).unwrap();
    k.join_returned(j, 0, Dependencies::on([i])).unwrap();
    let cmds = k.try_failed(i, 0, 10.0).unwrap();
    assert_eq!(
        cmds,
        [
            Command::Fail { task: i, state: TaskState::Failed, cause: FailCause::Try },
            Command::Fail { task: j, state: TaskState::Failed, cause: FailCause::Join },
            Command::Fail { task: after, state: TaskState::DepFail, cause: FailCause::Dependency },
        ],
        "a join failure is not retried, and propagates"
    );
}

#[test]
fn join_of_nothing_or_of_finished_futures_completes_at_once() {
    let mut k = kernel(0.0);
    let (j, _) = k.submit(join_spec("empty"), Dependencies::default()).unwrap();
    assert_eq!(k.join_returned(j, 0, Dependencies::default()).unwrap(), [done(j)]);
    let (i, _) = k.submit(spec("inner"), Dependencies::default()).unwrap();
    k.try_succeeded(i, 0, false).unwrap();
    let (j2, _) = k.submit(join_spec("outer"), Dependencies::default()).unwrap();
    assert_eq!(k.join_returned(j2, 0, Dependencies::on([i])).unwrap(), [done(j2)]);
    let (j3, _) = k.submit(join_spec("selfish"), Dependencies::default()).unwrap();
    assert_eq!(k.join_returned(j3, 0, Dependencies::on([j3])), Err(KernelError::JoinsItself(j3)));
}

#[test]
fn memo_hits_finish_in_memo_done() {
    let mut k = kernel(0.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    assert_eq!(
        k.try_succeeded(a, 0, true).unwrap(),
        [Command::Complete { task: a, state: TaskState::MemoDone }]
    );
    assert_eq!(k.count(TaskState::MemoDone), 1);
}

#[test]
fn records_are_kept_without_garbage_collection() {
    let mut k = Kernel::new(KernelConfig { retries: 0.0, garbage_collect: false });
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    k.try_failed(a, 0, 1.0).unwrap();
    assert_eq!(k.info(a).unwrap().state, TaskState::Failed);
    let (b, cmds) = k.submit(spec("b"), Dependencies::on([a])).unwrap();
    assert!(matches!(cmds[0], Command::Fail { task, .. } if task == b));
    assert_eq!(k.records_held(), 2);
}

#[test]
fn closed_kernel_refuses_new_tasks_but_finishes_old_ones() {
    let mut k = kernel(0.0);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    k.close();
    assert_eq!(k.submit(spec("b"), Dependencies::default()).unwrap_err(), KernelError::Closed);
    assert_eq!(k.try_succeeded(a, 0, false).unwrap(), [done(a)]);
}

#[test]
fn state_counts_add_up_under_a_mixed_workload() {
    let mut k = kernel(1.0);
    let mut ids = Vec::new();
    for i in 0..1000u64 {
        let deps = if i % 3 == 0 || ids.is_empty() { Dependencies::default() } else { Dependencies::on([ids[ids.len() - 1]]) };
        ids.push(k.submit(spec("t"), deps).unwrap().0);
    }
    // drive to completion: fail every 7th try once, and every 11th task for good
    let mut queue: Vec<Command> = Vec::new();
    for &id in &ids {
        if let Some(info) = k.info(id) {
            if info.state == TaskState::Launched {
                queue.push(launch(id, info.try_id));
            }
        }
    }
    while let Some(cmd) = queue.pop() {
        if let Command::Launch { task, try_id } = cmd {
            let out = if task % 11 == 0 {
                k.try_failed(task, try_id, 5.0).unwrap()
            } else if task % 7 == 0 && try_id == 0 {
                k.try_failed(task, try_id, 1.0).unwrap()
            } else {
                k.try_succeeded(task, try_id, false).unwrap()
            };
            queue.extend(out);
        }
    }
    assert_eq!(k.unfinished(), 0);
    let finals = k.count(TaskState::ExecDone) + k.count(TaskState::Failed) + k.count(TaskState::DepFail);
    assert_eq!(finals, 1000);
    assert!(k.count(TaskState::DepFail) > 0);
    for s in [TaskState::Pending, TaskState::Launched, TaskState::FailRetryable, TaskState::Joining] {
        assert_eq!(k.count(s), 0, "{s}");
    }
}

#[test]
fn observed_transitions_are_parsls_status_rows() {
    let mut k = kernel(1.0);
    assert!(k.drain_transitions().is_empty(), "not observed: nothing kept");
    k.observe_transitions(true);
    let (a, _) = k.submit(spec("a"), Dependencies::default()).unwrap();
    let (b, _) = k.submit(spec("b"), Dependencies::on([a])).unwrap();
    k.try_failed(a, 0, 1.0).unwrap();
    k.try_failed(a, 1, 1.0).unwrap();
    let seen: Vec<String> = k
        .drain_transitions()
        .iter()
        .map(|t| format!("{}.{} {} {}", t.task, t.try_id, t.state.name(), t.fail_count))
        .collect();
    assert_eq!(
        seen,
        [
            "0.0 pending 0",
            "0.0 launched 0",
            "1.0 pending 0",
            "0.0 fail_retryable 1", // the failed try's id …
            "0.1 pending 1",        // … then the next try's
            "0.1 launched 1",
            "0.1 failed 2", // with the count, though the record is forgotten now
            "1.0 dep_fail 1", // a dependency failure counts as the task's, as in Parsl
        ]
    );
    assert_eq!(b, 1);
    assert!(k.drain_transitions().is_empty(), "drained");
}

#[test]
fn a_memo_hit_is_recorded_as_parsl_records_it() {
    let mut k = kernel(1.0);
    k.observe_transitions(true);
    let memo = TaskSpec { memoize: true, ..spec("m") };
    let (hit, _) = k.submit(memo, Dependencies::default()).unwrap();
    assert_eq!(k.count(TaskState::Launched), 1, "launched inside the kernel all the same");
    k.try_succeeded(hit, 0, true).unwrap();
    let (miss, _) = k.submit(memo, Dependencies::default()).unwrap();
    k.memo_missed(miss, 0).unwrap();
    k.try_failed(miss, 0, 1.0).unwrap();
    k.memo_missed(miss, 1).unwrap();
    k.try_succeeded(miss, 1, false).unwrap();
    let seen: Vec<String> =
        k.drain_transitions().iter().map(|t| format!("{}.{} {}", t.task, t.try_id, t.state.name())).collect();
    assert_eq!(
        seen,
        [
            "0.0 pending",
            "0.0 memo_done", // no `launched`: Parsl's launch_task returns the memo hit before it
            "1.0 pending",
            "1.0 launched", // when the front found nothing in the table
            "1.0 fail_retryable",
            "1.1 pending",
            "1.1 launched",
            "1.1 exec_done",
        ]
    );
    assert!(matches!(k.memo_missed(miss, 1), Err(KernelError::UnknownTask(_)) | Err(KernelError::WrongState { .. })));
}

#[test]
fn tasks_of_one_app_share_one_copy_of_its_name() {
    let mut k = kernel(0.0);
    let (a, _) = k.submit(TaskSpec { func_name: "inc", executor: "htex", join: false, memoize: false }, Dependencies::default()).unwrap();
    let (b, _) = k.submit(TaskSpec { func_name: "inc", executor: "htex", join: false, memoize: false }, Dependencies::default()).unwrap();
    let (ia, ib) = (k.info(a).unwrap(), k.info(b).unwrap());
    assert!(std::sync::Arc::ptr_eq(&ia.func_name, &ib.func_name));
    assert!(std::sync::Arc::ptr_eq(&ia.executor, &ib.executor));
    assert_eq!(&*ia.func_name, "inc");
}
