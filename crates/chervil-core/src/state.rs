//! Task states, with Parsl's names and numeric values.
//!
//! The numbers are part of the public contract: Parsl's monitoring database and
//! scripts that compare `task_record['status']` against `States.exec_done` rely on
//! them, so they are fixed here rather than derived from declaration order.

/// Where a task is in its life. Values match `parsl.dataflow.states.States`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TaskState {
    /// Submitted, waiting for its dependencies (or for a retry to be launched).
    Pending = 0,
    /// Reported by monitoring only: the kernel itself never moves a task here.
    Running = 2,
    /// Finished successfully.
    ExecDone = 3,
    /// Finished with an error and no retry budget left.
    Failed = 4,
    /// Never launched because a dependency failed.
    DepFail = 5,
    /// Handed to an executor.
    Launched = 7,
    /// A try failed and another will be made.
    FailRetryable = 8,
    /// Completed from the memo table or a checkpoint without running.
    MemoDone = 9,
    /// A join app's body returned futures; waiting for them.
    Joining = 10,
    /// Reported by monitoring only.
    RunningEnded = 11,
}

impl TaskState {
    /// Every state, for tables indexed by state.
    pub const ALL: [TaskState; 10] = [
        TaskState::Pending,
        TaskState::Running,
        TaskState::ExecDone,
        TaskState::Failed,
        TaskState::DepFail,
        TaskState::Launched,
        TaskState::FailRetryable,
        TaskState::MemoDone,
        TaskState::Joining,
        TaskState::RunningEnded,
    ];

    /// A final state is never left again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::ExecDone | TaskState::MemoDone | TaskState::Failed | TaskState::DepFail
        )
    }

    /// A final state in which the task produced no result.
    pub fn is_failure(self) -> bool {
        matches!(self, TaskState::Failed | TaskState::DepFail)
    }

    /// Parsl's lower-case name, as printed by `States.<name>`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::ExecDone => "exec_done",
            TaskState::Failed => "failed",
            TaskState::DepFail => "dep_fail",
            TaskState::Launched => "launched",
            TaskState::FailRetryable => "fail_retryable",
            TaskState::MemoDone => "memo_done",
            TaskState::Joining => "joining",
            TaskState::RunningEnded => "running_ended",
        }
    }

    /// The numeric value (Parsl's `States.x.value`).
    pub fn value(self) -> u8 {
        self as u8
    }

    /// Inverse of [`TaskState::value`].
    pub fn from_value(value: u8) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|s| s.value() == value)
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_parsl() {
        let expected = [
            ("pending", 0),
            ("running", 2),
            ("exec_done", 3),
            ("failed", 4),
            ("dep_fail", 5),
            ("launched", 7),
            ("fail_retryable", 8),
            ("memo_done", 9),
            ("joining", 10),
            ("running_ended", 11),
        ];
        for (state, (name, value)) in TaskState::ALL.iter().zip(expected) {
            assert_eq!(state.name(), name);
            assert_eq!(state.value(), value);
            assert_eq!(TaskState::from_value(value), Some(*state));
        }
        assert_eq!(TaskState::from_value(1), None);
    }

    #[test]
    fn final_states() {
        let finals: Vec<_> = TaskState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [TaskState::ExecDone, TaskState::Failed, TaskState::DepFail, TaskState::MemoDone]
        );
    }
}
