//! The interchange's decisions, driven by plain calls and a hand-moved clock.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chervil_htex::*;
use chervil_proto::{Hello, PROTOCOL_VERSION};

const TOKEN: &[u8] = b"run-secret";

fn ic(prefetch: u32) -> Interchange {
    Interchange::new(InterchangeConfig {
        prefetch_capacity: prefetch,
        heartbeat_threshold: Duration::from_secs(120),
        heartbeat_period: Duration::from_secs(30),
        token: TOKEN.to_vec(),
        selector: Default::default(),
    })
}

fn hello(workers: u32) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        token: TOKEN.to_vec(),
        hostname: "node".into(),
        block_id: "0".into(),
        workers,
        cores: workers,
        memory_mb: 1000,
        python_version: "3.11.7".into(),
        package_version: env!("CARGO_PKG_VERSION").into(),
    }
}

fn sent(actions: &[Action]) -> Vec<(PoolId, Vec<TaskId>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { pool, tasks } => Some((*pool, tasks.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn refuses_wrong_token_version_and_empty_pools() {
    let mut x = ic(0);
    let now = Instant::now();
    let mut h = hello(2);
    h.token = b"guess".to_vec();
    assert_eq!(x.register(&h, now).unwrap_err(), Rejection::WrongToken);
    let mut h = hello(2);
    h.version = PROTOCOL_VERSION + 1;
    let err = x.register(&h, now).unwrap_err();
    assert!(err.to_string().contains("same Chervil version"), "{err}");
    assert_eq!(x.register(&hello(0), now).unwrap_err(), Rejection::NoWorkers);
    assert_eq!(x.load().pools, 0);
    // a refused pool never got a task
    x.submit(1, now);
    assert_eq!(x.load().pending, 1);
}

#[test]
fn tasks_wait_for_a_pool_then_flow_in_batches() {
    let mut x = ic(0);
    let now = Instant::now();
    for t in 0..5 {
        assert!(x.submit(t, now).is_empty());
    }
    let (p, actions) = x.register(&hello(3), now).unwrap();
    assert_eq!(sent(&actions), [(p, vec![0, 1, 2])], "one frame with as many tasks as workers");
    assert!(x.submit(5, now).is_empty(), "no free slot");
    let (accepted, actions) = x.results(p, &[0, 2], now);
    assert_eq!(accepted, [0, 2]);
    assert_eq!(sent(&actions), [(p, vec![3, 4])]);
    assert_eq!(x.load(), Load { pending: 1, held: 3, capacity: 3, pools: 1 });
}

#[test]
fn prefetch_adds_capacity() {
    let mut x = ic(2);
    let now = Instant::now();
    let (p, _) = x.register(&hello(1), now).unwrap();
    let actions: Vec<Action> = (0..5).flat_map(|t| x.submit(t, now)).collect();
    assert_eq!(sent(&actions).iter().map(|(_, t)| t.len()).sum::<usize>(), 3);
    assert_eq!(x.held_by(p), [0, 1, 2]);
}

#[test]
fn work_spreads_over_pools() {
    let mut x = ic(0);
    let now = Instant::now();
    let (a, _) = x.register(&hello(2), now).unwrap();
    let (b, _) = x.register(&hello(2), now).unwrap();
    let actions: Vec<Action> = (0..4).flat_map(|t| x.submit(t, now)).collect();
    let per_pool: Vec<usize> = [a, b].iter().map(|p| x.held_by(*p).len()).collect();
    assert_eq!(per_pool, [2, 2]);
    assert_eq!(sent(&actions).len(), 4, "tasks submitted one at a time go out one at a time");
}

#[test]
fn lost_pool_reports_exactly_its_tasks_once() {
    let mut x = ic(0);
    let now = Instant::now();
    let (a, _) = x.register(&hello(3), now).unwrap();
    let (b, _) = x.register(&hello(3), now).unwrap();
    for t in 0..6 {
        x.submit(t, now);
    }
    let held_a = x.held_by(a);
    assert_eq!(held_a.len(), 3);
    let actions = x.disconnected(a, "connection reset", now);
    let lost: Vec<&Action> = actions.iter().filter(|a| matches!(a, Action::Lost { .. })).collect();
    assert_eq!(lost.len(), 1);
    match lost[0] {
        Action::Lost { tasks, loss } => {
            assert_eq!(tasks, &held_a);
            assert_eq!((loss.pool, loss.why.as_str()), (a, "connection reset"));
        }
        _ => unreachable!(),
    }
    // a late result from the lost pool is refused, so nothing completes twice
    let (accepted, _) = x.results(a, &held_a, now);
    assert!(accepted.is_empty());
    assert!(x.disconnected(a, "again", now).is_empty());
    // the survivor's tasks are untouched
    assert_eq!(x.held_by(b).len(), 3);
}

#[test]
fn silence_past_the_threshold_loses_the_pool() {
    let mut x = ic(0);
    let t0 = Instant::now();
    let (a, _) = x.register(&hello(1), t0).unwrap();
    let (b, _) = x.register(&hello(1), t0).unwrap();
    x.submit(10, t0);
    x.submit(11, t0);
    let actions = x.tick(t0 + Duration::from_secs(31));
    assert_eq!(actions.iter().filter(|a| matches!(a, Action::Heartbeat { .. })).count(), 2);
    x.heard_from(b, t0 + Duration::from_secs(100));
    let actions = x.tick(t0 + Duration::from_secs(121));
    assert!(actions.contains(&Action::Close { pool: a }));
    assert!(actions.iter().any(|act| matches!(act, Action::Lost { tasks, .. } if tasks == &vec![10])));
    assert_eq!(x.load().pools, 1);
    assert_eq!(x.held_by(b), [11]);
}

#[test]
fn draining_pool_gets_no_new_tasks() {
    let mut x = ic(0);
    let now = Instant::now();
    let (a, _) = x.register(&hello(2), now).unwrap();
    x.submit(1, now);
    x.draining(a, now);
    assert!(x.submit(2, now).is_empty());
    let (accepted, actions) = x.results(a, &[1], now);
    assert_eq!(accepted, [1]);
    assert!(sent(&actions).is_empty());
    let (b, actions) = x.register(&hello(1), now).unwrap();
    assert_eq!(sent(&actions), [(b, vec![2])]);
}

#[test]
fn churn_never_double_assigns_or_loses_tasks() {
    // pools come and go while tasks flow; every task ends exactly once, as a result or a loss
    let mut x = ic(1);
    let mut now = Instant::now();
    let mut live: Vec<PoolId> = Vec::new();
    let mut done: HashSet<TaskId> = HashSet::new();
    let mut lost: Vec<TaskId> = Vec::new();
    let mut next_task = 0u64;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for _ in 0..20_000 {
        now += Duration::from_millis(10);
        let mut actions = Vec::new();
        match rand(10) {
            0 if live.len() < 5 => {
                let (p, a) = x.register(&hello(1 + rand(4) as u32), now).unwrap();
                live.push(p);
                actions = a;
            }
            1 if !live.is_empty() => {
                let p = live.remove(rand(live.len() as u64) as usize);
                actions = x.disconnected(p, "killed", now);
            }
            2..=5 => {
                actions = x.submit(next_task, now);
                next_task += 1;
            }
            _ if !live.is_empty() => {
                let p = live[rand(live.len() as u64) as usize];
                let held = x.held_by(p);
                if !held.is_empty() {
                    let (ok, a) = x.results(p, &held[..1 + rand(held.len() as u64) as usize], now);
                    for t in ok {
                        assert!(done.insert(t), "task {t} completed twice");
                    }
                    actions = a;
                }
            }
            _ => {}
        }
        for a in actions {
            if let Action::Lost { tasks, .. } = a {
                lost.extend(tasks);
            }
        }
    }
    let held: usize = live.iter().map(|p| x.held_by(*p).len()).sum();
    for t in &lost {
        assert!(!done.contains(t), "task {t} both completed and lost");
    }
    assert_eq!(done.len() + lost.len() + held + x.load().pending, next_task as usize);
}

#[test]
fn a_retired_block_gets_no_tasks_and_only_when_idle() {
    let mut x = ic(0);
    let t0 = Instant::now();
    let (busy, _) = x.register(&hello(1), t0).unwrap();
    let mut other = hello(1);
    other.block_id = "1".into();
    let (idle, _) = x.register(&other, t0).unwrap();
    x.submit(7, t0);
    let holder = if x.held_by(busy) == [7] { busy } else { idle };
    let block = x.pool(holder).unwrap().block_id.clone();
    assert_eq!(x.idle_for(holder, t0 + Duration::from_secs(5)), None, "busy pools are not idle");
    assert_eq!(x.retire_block(&block, true), Err(1), "busy block left alone");
    let (accepted, _) = x.results(holder, &[7], t0 + Duration::from_secs(1));
    assert_eq!(accepted, [7]);
    assert_eq!(x.idle_for(holder, t0 + Duration::from_secs(4)), Some(Duration::from_secs(3)));
    assert_eq!(x.retire_block(&block, true), Ok(vec![Action::Retire { pool: holder }]));
    // new work goes to the other block only, and a late pool of the retired block is refused
    let actions = x.submit(8, t0 + Duration::from_secs(5));
    assert_eq!(sent(&actions).len(), 1);
    assert_ne!(sent(&actions)[0].0, holder);
    let mut late = hello(1);
    late.block_id = block.clone();
    assert_eq!(x.register(&late, t0).unwrap_err(), Rejection::Retired(block));
}

fn with_selector(selector: ManagerSelector) -> Interchange {
    Interchange::new(InterchangeConfig {
        prefetch_capacity: 0,
        heartbeat_threshold: Duration::from_secs(120),
        heartbeat_period: Duration::from_secs(30),
        token: TOKEN.to_vec(),
        selector,
    })
}

fn in_block(block: &str, workers: u32) -> Hello {
    Hello { block_id: block.into(), ..hello(workers) }
}

#[test]
fn block_id_order_fills_the_newest_block_and_leaves_the_oldest_idle() {
    let mut x = with_selector(ManagerSelector::BlockId);
    let now = Instant::now();
    // registered oldest first, and block 10 after block 2 (numeric order, not text);
    // a pool whose block is not a number comes last
    let odd = x.register(&in_block("login", 2), now).unwrap().0;
    let b0 = x.register(&in_block("0", 2), now).unwrap().0;
    let b2 = x.register(&in_block("2", 2), now).unwrap().0;
    let b10 = x.register(&in_block("10", 2), now).unwrap().0;
    // tasks one at a time, as a trickle of work: every one lands in block 10
    for task in 0..6 {
        let got = sent(&x.submit(task, now));
        assert_eq!(got.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [b10], "task {task}");
        x.results(b10, &[task], now);
    }
    assert!(x.idle_for(b0, now).is_some() && x.idle_for(b2, now).is_some());
    // a burst fills block 10, then 2, then 0, then the odd one
    let got = sent(&x.submit_all(10..17, now));
    assert_eq!(got, vec![(b10, vec![10, 11]), (b2, vec![12, 13]), (b0, vec![14, 15]), (odd, vec![16])]);
    // a result frees a slot in block 2: the next task goes there, not to block 0
    x.results(b2, &[12], now);
    assert_eq!(sent(&x.submit(17, now)), vec![(b2, vec![17])]);
    x.register(&in_block("2", 2), now).unwrap();
    assert_eq!(x.connected_blocks(), ["login", "0", "2", "10"], "each block once, in the order first seen");
}

#[test]
fn random_order_spreads_a_trickle_over_the_pools() {
    let mut x = with_selector(ManagerSelector::Random);
    let now = Instant::now();
    let pools: Vec<PoolId> = (0..4).map(|b| x.register(&in_block(&b.to_string(), 1), now).unwrap().0).collect();
    let mut used = HashSet::new();
    for task in 0..40 {
        for (pool, tasks) in sent(&x.submit(task, now)) {
            used.insert(pool);
            x.results(pool, &tasks, now);
        }
    }
    assert_eq!(used.len(), pools.len(), "every pool got work");
}

#[test]
fn tasks_with_a_priority_go_first_lowest_first_then_the_rest_in_order() {
    let mut x = with_selector(ManagerSelector::RoundRobin);
    let now = Instant::now();
    // queued before any pool: 1 has none, 2..=6 have priorities (two of them equal)
    let queued: [(TaskId, Option<f64>); 6] = [(1, None), (2, Some(5.0)), (3, Some(-1.0)), (4, Some(5.0)), (5, Some(2.5)), (6, None)];
    assert!(sent(&x.submit_prioritized(queued, now)).is_empty());
    assert_eq!(x.load().pending, 6);
    let (pool, first) = x.register(&hello(1), now).unwrap();
    let mut order: Vec<TaskId> = Vec::new();
    let mut got = sent(&first);
    while let Some((p, tasks)) = got.pop() {
        assert_eq!(p, pool);
        order.extend(&tasks);
        got = sent(&x.results(pool, &tasks, now).1);
    }
    // Parsl's order: the lowest priority first, equal ones by task id, then the others
    assert_eq!(order, [3, 5, 2, 4, 1, 6]);
}
