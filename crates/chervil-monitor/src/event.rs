//! What can be recorded. Times are microseconds since the Unix epoch (UTC); the
//! writer turns them into Parsl's local-time text.

/// A task as submitted: the `task` row's fixed columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub task_id: u64,
    pub func_name: String,
    /// The executor label; becomes each try's `task_executor`.
    pub executor: String,
    /// Ids of the tasks it depends on, as Parsl writes them: `"1,2,3"` (empty: none).
    pub depends: String,
    pub memoize: bool,
    pub inputs: Option<String>,
    pub outputs: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub invoked_us: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The run began: its `workflow` row, with zero counts until [`Event::WorkflowEnded`].
    WorkflowStarted {
        name: Option<String>,
        version: Option<String>,
        began_us: i64,
        host: String,
        user: String,
        rundir: String,
    },
    /// The run ended: closes the `workflow` row with its counts.
    WorkflowEnded { completed_us: i64, tasks_completed: u64, tasks_failed: u64 },
    /// A task was submitted: its `task` row (its `pending` status comes as a [`Event::TaskState`]).
    TaskSubmitted(TaskRow),
    /// A task entered a state (Parsl's state name): a `status` row. `launched` also
    /// starts the try's row; a final state closes the task's and try's rows.
    TaskState { task_id: u64, try_id: u32, state: &'static str, at_us: i64 },
    /// A task's failure count and cost so far (sent with each of its final or
    /// retry states).
    TaskFailures { task_id: u64, fail_count: u32, fail_cost: f64 },
    /// A task's memo hash, once computed.
    TaskHashsum { task_id: u64, hashsum: String },
    /// A task's `inputs` as it ran them, once the futures among them had resolved (Parsl
    /// writes the values, not the futures the task was submitted with).
    TaskInputs { task_id: u64, inputs: String },
    /// A try started running on a worker: where and when.
    TryRunning { task_id: u64, try_id: u32, at_us: i64, hostname: Option<String>, block_id: Option<String> },
    /// A try's failure, appended to its `task_fail_history`.
    TryFailed { task_id: u64, try_id: u32, error: String },
    /// A block changed state (Parsl's `JobState` name).
    Block { executor: String, block_id: String, job_id: Option<String>, status: String, at_us: i64 },
    /// A sample of the process running a try (Parsl's `resource` row; psutil's names).
    Resource(ResourceRow),
    /// A node's pool registered, heartbeat or left.
    Node {
        hostname: String,
        uid: String,
        block_id: String,
        cpu_count: u32,
        total_memory: u64,
        active: bool,
        worker_count: u32,
        python_v: String,
        at_us: i64,
        last_heartbeat_us: i64,
    },
}

/// Monitoring's `resource` row: one look at the process running a try.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    pub task_id: u64,
    pub try_id: u32,
    pub at_us: i64,
    pub interval_s: f64,
    pub pid: u32,
    pub memory_percent: f64,
    pub children: u32,
    pub user_s: f64,
    pub system_s: f64,
    pub vms_bytes: u64,
    pub rss_bytes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub status: String,
    pub cpu_num: u32,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
}
