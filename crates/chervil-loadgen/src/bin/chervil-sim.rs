//! `chervil-sim`: the interchange's dispatch core and the scaling strategy at sizes one
//! machine cannot host, on a virtual clock (no sockets, no processes).
//!
//! Dispatch: `--pools` pools of `--workers` workers register; `--tasks` tasks are
//! submitted at once, each taking a seeded random `--min-ms`..`--max-ms` of virtual time;
//! every result goes back through the core, which hands out the next task, and a
//! `tick` runs every virtual second, as the interchange's timer does. Measured: wall
//! time per task through the core, and how close the virtual makespan comes to the
//! ideal (all work spread evenly over all workers).
//!
//! Scaling: a burst of `--scale-tasks` tasks meets `--blocks` blocks of
//! `--block-workers` workers that take `--startup-s` to start; the strategy runs every
//! `--period-s` (virtual) until every block is back to `min_blocks` (0). Measured: wall
//! time per strategy step at full size, and the virtual times to reach the maximum and
//! to come back down.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use chervil_htex::{Action, Interchange, InterchangeConfig};
use chervil_loadgen::{Args, Rng};
use chervil_proto::{Hello, PROTOCOL_VERSION};
use chervil_providers::JobState;
use chervil_scaling::{BlockView, Decision, Limits, Scaler, Strategy};

const USAGE: &str = "chervil-sim [--pools 4000] [--workers 256] [--tasks 5000000] [--min-ms 100] [--max-ms 10000] \
[--blocks 10000] [--block-workers 128] [--scale-tasks 5000000] [--task-s 60] [--startup-s 30] [--period-s 5] [--seed 1]";

fn main() {
    if let Err(e) = run() {
        eprintln!("chervil-sim: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let a = Args::parse(USAGE)?;
    let dispatch = simulate_dispatch(
        a.get("pools", 4000u32)?,
        a.get("workers", 256u32)?,
        a.get("tasks", 5_000_000u64)?,
        (a.get("min-ms", 100u64)?, a.get("max-ms", 10_000u64)?),
        a.get("seed", 1u64)?,
    )?;
    let scaling = simulate_scaling(
        a.get("blocks", 10_000u32)?,
        a.get("block-workers", 128u32)?,
        a.get("scale-tasks", 5_000_000u64)?,
        a.get("task-s", 60u64)?,
        a.get("startup-s", 30u64)?,
        a.get("period-s", 5u64)?,
    );
    println!("{{\"dispatch\": {dispatch}, \"scaling\": {scaling}}}");
    Ok(())
}

fn simulate_dispatch(pools: u32, workers: u32, tasks: u64, (min_ms, max_ms): (u64, u64), seed: u64) -> Result<String, String> {
    let t0 = Instant::now(); // the virtual clock's origin; virtual time is t0 + offset
    let mut ix = Interchange::new(InterchangeConfig {
        prefetch_capacity: 0,
        // Every pool answers; silence is loadgen's business. The ticks still run.
        heartbeat_threshold: Duration::from_secs(86_400),
        heartbeat_period: Duration::from_secs(30),
        token: b"sim".to_vec(),
        selector: Default::default(),
    });
    let mut rng = Rng::new(seed);
    // (virtual µs when it ends, pool, task)
    let mut running: BinaryHeap<Reverse<(u64, u32, u64)>> = BinaryHeap::new();
    let mut work_us: u128 = 0;
    let mut sent = 0u64;
    let mut schedule = |actions: Vec<Action>, now_us: u64, running: &mut BinaryHeap<Reverse<(u64, u32, u64)>>| {
        for action in actions {
            if let Action::Send { pool, tasks } = action {
                for task in tasks {
                    let d = rng.between(min_ms * 1000, max_ms * 1000);
                    work_us += u128::from(d);
                    sent += 1;
                    running.push(Reverse((now_us + d, pool, task)));
                }
            }
        }
    };
    let wall = Instant::now();
    for p in 0..pools {
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: b"sim".to_vec(),
            hostname: format!("node{p}"),
            block_id: (p / 4).to_string(),
            workers,
            cores: workers,
            memory_mb: 0,
            python_version: String::new(),
            package_version: env!("CARGO_PKG_VERSION").into(),
        };
        let (_, actions) = ix.register(&hello, t0).map_err(|e| e.to_string())?;
        schedule(actions, 0, &mut running);
    }
    for task in 0..tasks {
        let actions = ix.submit(task, t0);
        schedule(actions, 0, &mut running);
    }
    let mut next_tick_us = 1_000_000;
    let mut done = 0u64;
    let mut ticks = 0u64;
    let mut batch: Vec<u64> = Vec::new();
    while let Some(Reverse((at, pool, task))) = running.pop() {
        while next_tick_us <= at {
            let actions = ix.tick(t0 + Duration::from_micros(next_tick_us));
            schedule(actions, next_tick_us, &mut running);
            next_tick_us += 1_000_000;
            ticks += 1;
        }
        // Results that end at the same moment on the same pool come in one frame.
        batch.clear();
        batch.push(task);
        while let Some(Reverse((at2, pool2, task2))) = running.peek().copied() {
            if at2 != at || pool2 != pool {
                break;
            }
            running.pop();
            batch.push(task2);
        }
        let (accepted, actions) = ix.results(pool, &batch, t0 + Duration::from_micros(at));
        done += accepted.len() as u64;
        schedule(actions, at, &mut running);
    }
    let wall = wall.elapsed();
    if done != tasks || sent != tasks {
        return Err(format!("the core lost tasks: {tasks} submitted, {sent} sent, {done} done"));
    }
    let total_workers = u64::from(pools) * u64::from(workers);
    let makespan_s = (next_tick_us as f64 / 1e6).max(1e-9);
    let ideal_s = work_us as f64 / 1e6 / total_workers as f64;
    Ok(format!(
        "{{\"pools\": {pools}, \"workers\": {total_workers}, \"tasks\": {tasks}, \"wall_s\": {:.2}, \"ns_per_task\": {:.0}, \
         \"tasks_per_s\": {:.0}, \"virtual_makespan_s\": {makespan_s:.1}, \"ideal_makespan_s\": {ideal_s:.1}, \"ticks\": {ticks}}}",
        wall.as_secs_f64(),
        wall.as_nanos() as f64 / tasks as f64,
        tasks as f64 / wall.as_secs_f64(),
    ))
}

struct Block {
    id: String,
    started_s: u64,
    retired: bool,
}

/// A fluid model: blocks run `block_workers` tasks every `task_s`; the strategy sees
/// what the executor would show it.
fn simulate_scaling(max_blocks: u32, block_workers: u32, tasks: u64, task_s: u64, startup_s: u64, period_s: u64) -> String {
    let t0 = Instant::now();
    let mut scaler = Scaler::new(
        Strategy::HtexAutoScale,
        Limits {
            min_blocks: 0,
            max_blocks,
            parallelism: 1.0,
            slots_per_block: f64::from(block_workers),
            max_idletime: Duration::from_secs(120),
        },
    );
    let mut blocks: Vec<Block> = Vec::new();
    let mut remaining = tasks;
    let mut now_s = 0u64;
    let (mut steps, mut step_wall, mut worst_step) = (0u64, Duration::ZERO, Duration::ZERO);
    let (mut at_max_s, mut drained_s, mut back_down_s) = (None, None, None);
    let mut views: Vec<BlockView> = Vec::new();
    while now_s < 86_400 {
        // Work done since the last step by blocks that are up.
        let running: Vec<usize> = (0..blocks.len()).filter(|&i| !blocks[i].retired && blocks[i].started_s + startup_s <= now_s).collect();
        let capacity = running.len() as u64 * u64::from(block_workers);
        let finished = (capacity * period_s / task_s.max(1)).min(remaining);
        remaining -= finished;
        let in_flight = remaining.min(capacity);
        if remaining == 0 && drained_s.is_none() {
            drained_s = Some(now_s);
        }
        views.clear();
        let mut left_to_place = in_flight;
        for b in blocks.iter().filter(|b| !b.retired) {
            let up = b.started_s + startup_s <= now_s;
            let held = if up { left_to_place.min(u64::from(block_workers)) } else { 0 };
            left_to_place -= held;
            views.push(BlockView {
                id: b.id.clone(),
                state: if up { JobState::Running } else { JobState::Pending },
                pools: usize::from(up),
                held: held as usize,
                idle_for: (up && held == 0).then(|| Duration::from_secs(now_s.saturating_sub(drained_s.unwrap_or(now_s)))),
            });
        }
        let started = Instant::now();
        let decision = scaler.step(t0 + Duration::from_secs(now_s), remaining as usize, &views);
        let took = started.elapsed();
        steps += 1;
        step_wall += took;
        worst_step = worst_step.max(took);
        match decision {
            Some(Decision::ScaleOut { blocks: n, .. }) => {
                for _ in 0..n {
                    let id = blocks.len().to_string();
                    blocks.push(Block { id, started_s: now_s, retired: false });
                }
            }
            Some(Decision::ScaleIn { blocks: ids, .. }) => {
                for id in ids {
                    if let Some(b) = id.parse::<usize>().ok().and_then(|i| blocks.get_mut(i)) {
                        b.retired = true;
                    }
                }
            }
            None => {}
        }
        let active = blocks.iter().filter(|b| !b.retired).count() as u32;
        if active >= max_blocks && at_max_s.is_none() {
            at_max_s = Some(now_s);
        }
        if drained_s.is_some() && active == 0 {
            back_down_s = Some(now_s);
            break;
        }
        now_s += period_s;
    }
    let opt = |v: Option<u64>| v.map_or("null".to_string(), |s| s.to_string());
    format!(
        "{{\"max_blocks\": {max_blocks}, \"workers_at_max\": {}, \"tasks\": {tasks}, \"steps\": {steps}, \
         \"mean_step_us\": {:.0}, \"worst_step_us\": {}, \"virtual_s_to_max\": {}, \"virtual_s_to_drain\": {}, \
         \"virtual_s_back_to_min\": {}}}",
        u64::from(max_blocks) * u64::from(block_workers),
        step_wall.as_micros() as f64 / steps.max(1) as f64,
        worst_step.as_micros(),
        opt(at_max_s),
        opt(drained_s),
        opt(back_down_s),
    )
}
