//! The messages, in both directions.

use crate::codec::{decode_owned, DecodeError, Reader, TakePayload, Writer};

/// Bumped whenever a message's layout changes. A pool of another version is refused
/// with a message naming both versions (Parsl's `VersionMismatch`).
pub const PROTOCOL_VERSION: u16 = 5;

/// The pool's first frame: who it is and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u16,
    /// The run's secret; a pool without it gets nothing.
    pub token: Vec<u8>,
    pub hostname: String,
    /// The provider's block this pool was started in ("" when started by hand).
    pub block_id: String,
    /// Worker processes it runs, i.e. tasks it can run at once.
    pub workers: u32,
    pub cores: u32,
    pub memory_mb: u64,
    /// The Python the workers run (`3.11.7`), for monitoring's `node` rows.
    pub python_version: String,
    /// The Chervil the pool runs (Parsl's manager `parsl_version`).
    pub package_version: String,
}

impl Hello {
    /// The version of a Hello body, readable even when the rest of it is laid out
    /// differently (the version always comes first, after the tag).
    pub fn peek_version(body: &[u8]) -> Option<u16> {
        match body {
            [HELLO, a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }
}

/// One task for a pool: the interchange's id for it, the function it calls (sent
/// before, once per pool, as a [`FunctionMsg`]) and its pickled arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMsg {
    pub task: u64,
    pub function: u64,
    pub payload: Vec<u8>,
    /// An MPI task's `parsl_resource_specification`, as text pairs; empty otherwise.
    pub spec: Vec<(String, String)>,
}

/// A serialized function, sent to a pool before the first task that calls it, so
/// a large closure crosses the network once per pool rather than once per task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMsg {
    pub function: u64,
    pub blob: Vec<u8>,
}

/// How a task's run ended on the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The pickled return value.
    Ok(Vec<u8>),
    /// The pickled exception (a RemoteExceptionWrapper) the app raised.
    Err(Vec<u8>),
    /// The worker running it died (killed, segfault, out of memory); says how.
    WorkerLost(String),
    /// The pool would not run it, and says why (an MPI task its block cannot hold, a
    /// resource specification it cannot read): Parsl's InvalidResourceSpecification.
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    pub task: u64,
    pub outcome: Outcome,
    /// When the pool gave the task to a worker and when the worker answered (or was
    /// found dead): wall-clock microseconds since the Unix epoch, by the node's clock;
    /// 0 when it never reached a worker. Monitoring's `running`/`running_ended`.
    pub started_us: u64,
    pub ended_us: u64,
}

/// One look at the worker process running a task (monitoring's `resource` rows),
/// read by the pool from `/proc` every `resource_monitoring_interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSample {
    pub task: u64,
    /// Wall-clock µs since the epoch, by the node's clock.
    pub at_us: u64,
    pub pid: u32,
    /// The CPU it last ran on.
    pub cpu_num: u32,
    /// `/proc/<pid>/stat`'s state letter (`R`, `S`, `D`, …).
    pub state: u8,
    pub user_s: f64,
    pub system_s: f64,
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    /// RSS as a percentage of the node's memory.
    pub memory_percent: f64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    pub children: u32,
}

/// Pool → interchange.
#[derive(Debug, Clone, PartialEq)]
pub enum ToInterchange {
    Hello(Hello),
    Results(Vec<TaskResult>),
    /// Samples of the workers' processes, sent with the next frame going out.
    Resources(Vec<ResourceSample>),
    Heartbeat,
    /// The pool takes no new tasks and will exit once its current ones are done.
    Draining,
}

/// Interchange → pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToPool {
    Welcome { pool: u32, heartbeat_period_ms: u32 },
    Reject { reason: String },
    /// Functions the next tasks call that this pool has not been sent yet.
    Functions(Vec<FunctionMsg>),
    Tasks(Vec<TaskMsg>),
    Heartbeat,
    /// Stop: kill the workers and exit.
    Shutdown,
}

const HELLO: u8 = 1;
const RESULTS: u8 = 2;
const HEARTBEAT_UP: u8 = 3;
const DRAINING: u8 = 4;
const RESOURCES: u8 = 5;

const WELCOME: u8 = 1;
const REJECT: u8 = 2;
const TASKS: u8 = 3;
const HEARTBEAT_DOWN: u8 = 4;
const SHUTDOWN: u8 = 5;
const FUNCTIONS: u8 = 6;

const OUTCOME_OK: u8 = 0;
const OUTCOME_ERR: u8 = 1;
const OUTCOME_LOST: u8 = 2;
const OUTCOME_REFUSED: u8 = 3;

/// The public face both directions' messages share, over each one's own `encode_into`,
/// `decode_with` and `payload_mut`.
macro_rules! wire_message {
    ($message:ty) => {
        impl $message {
            /// The message's bytes, the body of one frame.
            pub fn encode(&self) -> Vec<u8> {
                let mut out = Vec::with_capacity(64);
                self.encode_into(&mut out);
                out
            }

            /// The message as one whole frame (length first), appended to `out`: what
            /// `encode_frame(&msg.encode(), out)` gives, with each payload copied once.
            pub fn encode_frame(&self, out: &mut Vec<u8>) {
                crate::frame::encode_frame_with(out, |out| self.encode_into(out));
            }

            pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
                Self::decode_with(body, &mut |at| body[at].to_vec())
            }

            /// `decode`, keeping the body's buffer as the first payload of 64 KiB or more
            /// in it (cut to it in place): a result or an argument of hundreds of
            /// megabytes is then not copied again on its way through.
            pub fn decode_owned(body: Vec<u8>) -> Result<Self, DecodeError> {
                decode_owned(body, Self::decode_with, Self::payload_mut)
            }
        }
    };
}

wire_message!(ToInterchange);
wire_message!(ToPool);

impl ToInterchange {
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            ToInterchange::Hello(h) => {
                let mut w = Writer::new(out, HELLO);
                w.u16(h.version);
                w.bytes(&h.token);
                w.str(&h.hostname);
                w.str(&h.block_id);
                w.u32(h.workers);
                w.u32(h.cores);
                w.u64(h.memory_mb);
                w.str(&h.python_version);
                w.str(&h.package_version);
            }
            ToInterchange::Results(results) => {
                let mut w = Writer::new(out, RESULTS);
                w.u32(results.len() as u32);
                for r in results {
                    w.u64(r.task);
                    w.u64(r.started_us);
                    w.u64(r.ended_us);
                    match &r.outcome {
                        Outcome::Ok(b) => {
                            w.u8(OUTCOME_OK);
                            w.bytes(b);
                        }
                        Outcome::Err(b) => {
                            w.u8(OUTCOME_ERR);
                            w.bytes(b);
                        }
                        Outcome::WorkerLost(why) => {
                            w.u8(OUTCOME_LOST);
                            w.str(why);
                        }
                        Outcome::Refused(why) => {
                            w.u8(OUTCOME_REFUSED);
                            w.str(why);
                        }
                    }
                }
            }
            ToInterchange::Resources(samples) => {
                let mut w = Writer::new(out, RESOURCES);
                w.u32(samples.len() as u32);
                for r in samples {
                    w.u64(r.task);
                    w.u64(r.at_us);
                    w.u32(r.pid);
                    w.u32(r.cpu_num);
                    w.u8(r.state);
                    w.u64(r.user_s.to_bits());
                    w.u64(r.system_s.to_bits());
                    w.u64(r.rss_bytes);
                    w.u64(r.vms_bytes);
                    w.u64(r.memory_percent.to_bits());
                    w.u64(r.read_bytes);
                    w.u64(r.write_bytes);
                    w.u64(r.ctx_voluntary);
                    w.u64(r.ctx_involuntary);
                    w.u32(r.children);
                }
            }
            ToInterchange::Heartbeat => {
                Writer::new(out, HEARTBEAT_UP);
            }
            ToInterchange::Draining => {
                Writer::new(out, DRAINING);
            }
        }
    }

    /// The `index`th payload that `decode_with` read: the results' values, in order.
    fn payload_mut(&mut self, index: usize) -> Option<&mut Vec<u8>> {
        match self {
            ToInterchange::Results(results) => results
                .iter_mut()
                .filter_map(|r| match &mut r.outcome {
                    Outcome::Ok(b) | Outcome::Err(b) => Some(b),
                    _ => None,
                })
                .nth(index),
            _ => None,
        }
    }

    fn decode_with(body: &[u8], take: &mut TakePayload<'_>) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let msg = match r.u8("message tag")? {
            HELLO => {
                let hello = Hello {
                    version: r.u16("version")?,
                    token: r.bytes("token")?,
                    hostname: r.str("hostname")?,
                    block_id: r.str("block_id")?,
                    workers: r.u32("workers")?,
                    cores: r.u32("cores")?,
                    memory_mb: r.u64("memory_mb")?,
                    python_version: r.str("python_version")?,
                    package_version: r.str("package_version")?,
                };
                if hello.token.is_empty() {
                    return Err(DecodeError::Empty { field: "token" });
                }
                ToInterchange::Hello(hello)
            }
            RESULTS => {
                let n = r.count("results", 29)?;
                let mut results = Vec::with_capacity(n);
                for _ in 0..n {
                    let task = r.u64("task id")?;
                    let started_us = r.u64("start time")?;
                    let ended_us = r.u64("end time")?;
                    let outcome = match r.u8("outcome")? {
                        OUTCOME_OK => Outcome::Ok(r.payload("result", take)?),
                        OUTCOME_ERR => Outcome::Err(r.payload("exception", take)?),
                        OUTCOME_LOST => Outcome::WorkerLost(r.str("worker loss")?),
                        OUTCOME_REFUSED => Outcome::Refused(r.str("refusal")?),
                        tag => return Err(DecodeError::UnknownTag { kind: "outcome", tag }),
                    };
                    results.push(TaskResult { task, outcome, started_us, ended_us });
                }
                ToInterchange::Results(results)
            }
            RESOURCES => {
                let n = r.count("resource samples", 101)?;
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    samples.push(ResourceSample {
                        task: r.u64("task id")?,
                        at_us: r.u64("sample time")?,
                        pid: r.u32("pid")?,
                        cpu_num: r.u32("cpu")?,
                        state: r.u8("process state")?,
                        user_s: f64::from_bits(r.u64("user time")?),
                        system_s: f64::from_bits(r.u64("system time")?),
                        rss_bytes: r.u64("rss")?,
                        vms_bytes: r.u64("vms")?,
                        memory_percent: f64::from_bits(r.u64("memory percent")?),
                        read_bytes: r.u64("read bytes")?,
                        write_bytes: r.u64("write bytes")?,
                        ctx_voluntary: r.u64("voluntary switches")?,
                        ctx_involuntary: r.u64("involuntary switches")?,
                        children: r.u32("children")?,
                    });
                }
                ToInterchange::Resources(samples)
            }
            HEARTBEAT_UP => ToInterchange::Heartbeat,
            DRAINING => ToInterchange::Draining,
            tag => return Err(DecodeError::UnknownTag { kind: "message to the interchange", tag }),
        };
        r.finish()?;
        Ok(msg)
    }
}

impl ToPool {
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            ToPool::Welcome { pool, heartbeat_period_ms } => {
                let mut w = Writer::new(out, WELCOME);
                w.u32(*pool);
                w.u32(*heartbeat_period_ms);
            }
            ToPool::Reject { reason } => {
                let mut w = Writer::new(out, REJECT);
                w.str(reason);
            }
            ToPool::Tasks(tasks) => {
                let mut w = Writer::new(out, TASKS);
                w.u32(tasks.len() as u32);
                for t in tasks {
                    w.u64(t.task);
                    w.u64(t.function);
                    w.bytes(&t.payload);
                    w.u32(t.spec.len() as u32);
                    for (k, v) in &t.spec {
                        w.str(k);
                        w.str(v);
                    }
                }
            }
            ToPool::Functions(functions) => {
                let mut w = Writer::new(out, FUNCTIONS);
                w.u32(functions.len() as u32);
                for f in functions {
                    w.u64(f.function);
                    w.bytes(&f.blob);
                }
            }
            ToPool::Heartbeat => {
                Writer::new(out, HEARTBEAT_DOWN);
            }
            ToPool::Shutdown => {
                Writer::new(out, SHUTDOWN);
            }
        }
    }

    /// The `index`th payload that `decode_with` read: the tasks' calls or the functions.
    fn payload_mut(&mut self, index: usize) -> Option<&mut Vec<u8>> {
        match self {
            ToPool::Tasks(tasks) => tasks.iter_mut().map(|t| &mut t.payload).nth(index),
            ToPool::Functions(functions) => functions.iter_mut().map(|f| &mut f.blob).nth(index),
            _ => None,
        }
    }

    fn decode_with(body: &[u8], take: &mut TakePayload<'_>) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let msg = match r.u8("message tag")? {
            WELCOME => ToPool::Welcome { pool: r.u32("pool id")?, heartbeat_period_ms: r.u32("heartbeat period")? },
            REJECT => ToPool::Reject { reason: r.str("reason")? },
            TASKS => {
                let n = r.count("tasks", 24)?;
                let mut tasks = Vec::with_capacity(n);
                for _ in 0..n {
                    let (task, function, payload) = (r.u64("task id")?, r.u64("function id")?, r.payload("payload", take)?);
                    let pairs = r.count("resource specification", 8)?;
                    let mut spec = Vec::with_capacity(pairs);
                    for _ in 0..pairs {
                        spec.push((r.str("specification key")?, r.str("specification value")?));
                    }
                    tasks.push(TaskMsg { task, function, payload, spec });
                }
                ToPool::Tasks(tasks)
            }
            FUNCTIONS => {
                let n = r.count("functions", 12)?;
                let mut functions = Vec::with_capacity(n);
                for _ in 0..n {
                    functions.push(FunctionMsg { function: r.u64("function id")?, blob: r.payload("function", take)? });
                }
                ToPool::Functions(functions)
            }
            HEARTBEAT_DOWN => ToPool::Heartbeat,
            SHUTDOWN => ToPool::Shutdown,
            tag => return Err(DecodeError::UnknownTag { kind: "message to a pool", tag }),
        };
        r.finish()?;
        Ok(msg)
    }
}
