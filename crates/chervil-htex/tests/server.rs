//! The interchange's sockets with a hand-driven pool: real TCP, real frames, the pool's
//! side written out step by step so what crosses the wire can be asserted exactly.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chervil_htex::{ClientEvent, InterchangeConfig, InterchangeHandle, Plain, Queued, ResultsHook, ServerConfig};
use chervil_proto::{encode_frame, FrameDecoder, Hello, Outcome, TaskResult, ToInterchange, ToPool, PROTOCOL_VERSION};

const TOKEN: &[u8] = b"a secret only this test knows...";

fn start() -> InterchangeHandle {
    InterchangeHandle::start(
        ServerConfig {
            bind: [127, 0, 0, 1].into(),
            port_range: (0, 0),
            interchange: InterchangeConfig {
                prefetch_capacity: 0,
                heartbeat_threshold: Duration::from_secs(120),
                heartbeat_period: Duration::from_secs(30),
                token: TOKEN.to_vec(),
                selector: Default::default(),
            },
            max_frame: 1 << 20,
            local_socket: false,
        },
        Plain,
    )
    .expect("the interchange starts")
}

fn framed(msg: &ToInterchange) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&msg.encode(), &mut out);
    out
}

/// The pool's end: reads whole frames off the socket.
struct FakePool {
    socket: TcpStream,
    dec: FrameDecoder,
}

impl FakePool {
    fn connect(port: u16, workers: u32) -> FakePool {
        let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        socket.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut pool = FakePool { socket, dec: FrameDecoder::default() };
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: TOKEN.to_vec(),
            hostname: "fake".into(),
            block_id: "0".into(),
            workers,
            cores: workers,
            memory_mb: 0,
            python_version: String::new(),
            package_version: env!("CARGO_PKG_VERSION").into(),
        };
        pool.socket.write_all(&framed(&ToInterchange::Hello(hello))).expect("hello");
        assert!(matches!(pool.next(), ToPool::Welcome { .. }));
        pool
    }

    fn next(&mut self) -> ToPool {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(body) = self.dec.next_frame().expect("a well-formed frame") {
                return ToPool::decode(&body).expect("a message");
            }
            let n = self.socket.read(&mut buf).expect("the interchange answers within 30 s");
            assert!(n > 0, "the interchange closed the connection");
            self.dec.extend(&buf[..n]);
        }
    }

    /// The next `Tasks` frame's task ids (functions frames skipped).
    fn tasks(&mut self) -> Vec<u64> {
        loop {
            match self.next() {
                ToPool::Tasks(tasks) => return tasks.into_iter().map(|t| t.task).collect(),
                ToPool::Functions(_) | ToPool::Heartbeat => {}
                other => panic!("expected tasks, got {other:?}"),
            }
        }
    }
}

fn ok(task: u64) -> ToInterchange {
    ToInterchange::Results(vec![TaskResult { task, outcome: Outcome::Ok(vec![task as u8]), started_us: 0, ended_us: 0 }])
}

/// Each worker's result leaves its pool as soon as it is there, so two often arrive in
/// one read. The interchange takes them together: the two tasks that follow go out in
/// one frame (one write, where it used to make one per result), and the client gets
/// both results.
#[test]
fn results_read_together_are_answered_together() {
    let ix = start();
    ix.register_function(7, b"f".to_vec());
    ix.submit((0..4).map(|t| (t, (7, vec![], vec![]))).collect());
    let mut pool = FakePool::connect(ix.port(), 2);
    let mut first = pool.tasks();
    while first.len() < 2 {
        first.extend(pool.tasks());
    }
    assert_eq!(first, vec![0, 1], "one task per worker, no prefetch");

    let mut both = framed(&ok(0));
    both.extend(framed(&ok(1)));
    pool.socket.write_all(&both).expect("results"); // one write: one read at the other end
    assert_eq!(pool.tasks(), vec![2, 3], "the next two tasks, in one frame");

    let mut done = Vec::new();
    while done.len() < 2 {
        for event in ix.wait(Duration::from_secs(30)).expect("events") {
            if let ClientEvent::Done { task, outcome: Outcome::Ok(value), .. } = event {
                assert_eq!(value, vec![task as u8]);
                done.push(task);
            }
        }
    }
    done.sort_unstable();
    assert_eq!(done, vec![0, 1]);
    ix.shutdown();
}

/// What a front's results hook sees and sends: a task it returns for a result goes to
/// the pool without the client submitting it or waking, and what the hook recorded for
/// a batch of events is taken with exactly that batch (`wait_then`).
#[test]
fn the_results_hook_sends_tasks_before_the_client_wakes() {
    struct Follow {
        seen: Mutex<Vec<u64>>,
    }
    impl ResultsHook for Follow {
        fn queued(&self, events: &[ClientEvent]) -> Vec<(u64, Queued)> {
            let done: Vec<u64> = events.iter().filter_map(|e| if let ClientEvent::Done { task, .. } = e { Some(*task) } else { None }).collect();
            self.seen.lock().unwrap().extend(&done);
            done.into_iter().filter(|t| *t < 100).map(|t| (t + 100, (7, vec![], vec![]))).collect()
        }
    }
    let ix = start();
    let hook = Arc::new(Follow { seen: Mutex::default() });
    assert!(ix.set_results_hook(hook.clone()));
    assert!(!ix.set_results_hook(hook.clone()), "one hook per interchange");
    ix.register_function(7, b"f".to_vec());
    ix.submit(vec![(1, (7, vec![], vec![]))]);
    let mut pool = FakePool::connect(ix.port(), 1);
    assert_eq!(pool.tasks(), vec![1]);
    pool.socket.write_all(&framed(&ok(1))).expect("result");
    assert_eq!(pool.tasks(), vec![101], "the hook's task, sent from the interchange thread");
    pool.socket.write_all(&framed(&ok(101))).expect("result");

    let mut done = Vec::new();
    while done.len() < 2 {
        let mut recorded = Vec::new();
        let events = ix.wait_then(Duration::from_secs(30), || recorded = std::mem::take(&mut *hook.seen.lock().unwrap())).expect("events");
        let batch: Vec<u64> = events.iter().filter_map(|e| if let ClientEvent::Done { task, .. } = e { Some(*task) } else { None }).collect();
        assert_eq!(recorded, batch, "the hook's record of a batch comes with that batch");
        done.extend(batch);
    }
    assert_eq!(done, vec![1, 101]);
    assert_eq!(ix.in_flight(), 0, "the hook's task was counted in flight, and answered");
    ix.shutdown();
}
