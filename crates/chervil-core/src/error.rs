//! The kernel's errors: each one is a front's mistake or a stale report, never a
//! task failure (those are states, not errors).

use crate::kernel::TaskId;
use crate::state::TaskState;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    #[error("task {0} is not a live task of this DataFlowKernel (it never existed or is already finished)")]
    UnknownTask(TaskId),
    #[error("task {task} depends on task {dependency}, which this DataFlowKernel never issued; was the future made by another DataFlowKernel?")]
    UnknownDependency { task: TaskId, dependency: TaskId },
    #[error("task {task} is in state {state}, so it cannot {action}")]
    WrongState { task: TaskId, state: TaskState, action: &'static str },
    #[error("task {task}: a report for try {reported} arrived, but the current try is {current}; the report is stale and was ignored")]
    StaleTry { task: TaskId, reported: u32, current: u32 },
    #[error("join app task {0} returned its own future, which could never complete")]
    JoinsItself(TaskId),
    #[error("this DataFlowKernel has been cleaned up and accepts no new tasks; load a new configuration first (chervil.load(config))")]
    Closed,
}
