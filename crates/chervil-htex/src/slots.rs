//! How many workers a node holds: the one rule, asked by the pool on its node and by
//! both fronts (through the driver) before any pool has connected.

/// What a pool is told about its workers (Parsl's rules: the smallest of
/// `max_workers_per_node`, cores / `cores_per_worker`, memory / `mem_per_worker`,
/// and the number of accelerators when any are listed).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSlots {
    pub max_workers_per_node: Option<u32>,
    pub cores_per_worker: f64,
    pub mem_per_worker_gb: Option<f64>,
    pub accelerators: Vec<String>,
}

/// `cores_per_worker` in MPI mode: a worker there only waits for its task's ranks, which
/// the MPI launcher starts on the nodes the task was given, so a node's cores do not
/// bound the workers — `max_workers_per_node` (Parsl's `max_workers_per_block`) does.
/// Parsl's `MPIExecutor` uses this value; both fronts take it from here.
pub const MPI_CORES_PER_WORKER: f64 = 1e-9;

/// What is known of a node: its cores and free memory, each when known.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NodeShape {
    pub cores: Option<usize>,
    pub mem_gb: Option<f64>,
}

impl NodeShape {
    /// The machine this runs on: the pool's own node, or the client's when its blocks
    /// run here (a local provider).
    pub fn this_machine() -> NodeShape {
        NodeShape {
            cores: std::thread::available_parallelism().map(|n| n.get()).ok(),
            mem_gb: available_memory_gb(),
        }
    }

    /// What a user said of the node (a provider's `cores_per_node`/`mem_per_node`),
    /// with this machine's figures where they said nothing: a local block's node.
    pub fn or_this_machine(self) -> NodeShape {
        let here = NodeShape::this_machine();
        NodeShape { cores: self.cores.or(here.cores), mem_gb: self.mem_gb.or(here.mem_gb) }
    }
}

impl WorkerSlots {
    /// The workers that fit a node of `cores` cores and `available_mem_gb` free (0:
    /// none fit, which the pool reports as an error naming the settings).
    pub fn count(&self, cores: usize, available_mem_gb: f64) -> u32 {
        self.fit(NodeShape { cores: Some(cores), mem_gb: Some(available_mem_gb) }).unwrap_or(u32::MAX)
    }

    /// How many workers a block's node is expected to bring before one has connected,
    /// from what is known of the node (a provider's `cores_per_node`/`mem_per_node`;
    /// this machine for a local provider): the same rule, and 1 when nothing bounds it
    /// (Parsl's guess). Never 0: scaling divides by it.
    pub fn expected(&self, node: NodeShape) -> u32 {
        self.fit(node).unwrap_or(1).max(1)
    }

    /// [`expected`](WorkerSlots::expected) workers per node × the block's nodes: the
    /// slots a block brings, which scaling counts in.
    pub fn expected_per_block(&self, node: NodeShape, nodes_per_block: u32) -> f64 {
        f64::from(self.expected(node)) * f64::from(nodes_per_block.max(1))
    }

    /// The smallest bound that applies; `None` when nothing bounds the count.
    fn fit(&self, node: NodeShape) -> Option<u32> {
        let mut n: Option<u32> = self.max_workers_per_node;
        let mut bound = |b: f64| {
            let b = if b.is_finite() { b.floor().clamp(0.0, f64::from(u32::MAX)) as u32 } else { u32::MAX };
            n = Some(n.map_or(b, |n| n.min(b)));
        };
        if let Some(cores) = node.cores.filter(|_| self.cores_per_worker > 0.0) {
            bound(cores as f64 / self.cores_per_worker);
        }
        if let (Some(mem), Some(per)) = (node.mem_gb, self.mem_per_worker_gb.filter(|m| *m > 0.0)) {
            bound(mem / per);
        }
        if !self.accelerators.is_empty() {
            bound(self.accelerators.len() as f64);
        }
        n
    }
}

/// Free memory in GB, from /proc/meminfo's MemAvailable (`None` if unreadable).
pub fn available_memory_gb() -> Option<f64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("MemAvailable:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(max: Option<u32>, cpw: f64, mem: Option<f64>, acc: usize) -> WorkerSlots {
        WorkerSlots {
            max_workers_per_node: max,
            cores_per_worker: cpw,
            mem_per_worker_gb: mem,
            accelerators: (0..acc).map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn the_smallest_bound_wins_on_a_known_node() {
        assert_eq!(slots(None, 1.0, None, 0).count(8, 64.0), 8);
        assert_eq!(slots(None, 2.0, None, 0).count(8, 64.0), 4);
        assert_eq!(slots(None, 0.5, None, 0).count(8, 64.0), 16);
        assert_eq!(slots(Some(3), 1.0, None, 0).count(8, 64.0), 3);
        assert_eq!(slots(None, 1.0, Some(10.0), 0).count(8, 64.0), 6);
        assert_eq!(slots(None, 1.0, None, 2).count(8, 64.0), 2);
        assert_eq!(slots(None, 4.0, None, 0).count(2, 64.0), 0, "no worker fits: the pool says so");
    }

    #[test]
    fn before_a_pool_connects_unknown_sizes_bound_nothing_and_the_guess_is_one() {
        let unknown = NodeShape::default();
        assert_eq!(slots(None, 1.0, None, 0).expected(unknown), 1, "Parsl's guess");
        assert_eq!(slots(Some(6), 1.0, None, 0).expected(unknown), 6);
        assert_eq!(slots(None, 1.0, None, 3).expected(unknown), 3);
        let slurm_node = NodeShape { cores: Some(48), mem_gb: None };
        assert_eq!(slots(None, 4.0, None, 0).expected(slurm_node), 12);
        assert_eq!(slots(None, 64.0, None, 0).expected(slurm_node), 1, "never 0");
        let fat = NodeShape { cores: Some(48), mem_gb: Some(90.0) };
        assert_eq!(slots(None, 1.0, Some(10.0), 0).expected(fat), 9);
        assert_eq!(slots(None, 4.0, None, 0).expected_per_block(slurm_node, 3), 36.0);
    }
}
