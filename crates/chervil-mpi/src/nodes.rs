//! Sharing a block's nodes among MPI tasks.
//!
//! Tasks are served in the order they came: the task at the head of the queue gets the
//! first free nodes as soon as enough are free, and no task behind it may take them
//! meanwhile. That gives up some packing (a small task could have used nodes the big
//! one is still waiting for) to guarantee that a large task is never starved by a
//! stream of small ones. Any free nodes do: a task's nodes need not be neighbours, so
//! nodes freed here and there are never stranded.
//!
//! The pool calls [`NodeScheduler::submit`] when an MPI task arrives and
//! [`NodeScheduler::release`] when it ends — normally or because its worker died —
//! and starts each task a [`Grant`] names, with those nodes.

use std::collections::{BTreeSet, HashMap, VecDeque};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    #[error("task {task} asks for {asked} nodes, but its block has {block}; ask for at most {block}, or use blocks with more nodes (nodes_per_block)")]
    TooLarge { task: u64, asked: usize, block: usize },
    #[error("task {task} asks for 0 nodes; an MPI task needs at least one")]
    NoNodes { task: u64 },
    #[error("task {0} was already submitted")]
    Duplicate(u64),
}

/// Task `task` may start now, on these nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub task: u64,
    pub nodes: Vec<String>,
}

#[derive(Debug)]
pub struct NodeScheduler {
    nodes: Vec<String>,
    /// Indices of free nodes; the lowest are handed out first, so grants are predictable.
    free: BTreeSet<usize>,
    waiting: VecDeque<(u64, usize)>,
    held: HashMap<u64, Vec<usize>>,
}

impl NodeScheduler {
    pub fn new(nodes: Vec<String>) -> Self {
        let free = (0..nodes.len()).collect();
        NodeScheduler { nodes, free, waiting: VecDeque::new(), held: HashMap::new() }
    }

    /// Nodes in the block.
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }

    pub fn free(&self) -> usize {
        self.free.len()
    }

    /// Tasks waiting for nodes.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Task `task` needs `num_nodes` nodes: returns the tasks that may start now (this one,
    /// if it is first in line and enough nodes are free). A task the block can never hold
    /// is an error at once rather than a wait forever.
    pub fn submit(&mut self, task: u64, num_nodes: usize) -> Result<Vec<Grant>, ScheduleError> {
        if num_nodes == 0 {
            return Err(ScheduleError::NoNodes { task });
        }
        if num_nodes > self.nodes.len() {
            return Err(ScheduleError::TooLarge { task, asked: num_nodes, block: self.nodes.len() });
        }
        if self.held.contains_key(&task) || self.waiting.iter().any(|(t, _)| *t == task) {
            return Err(ScheduleError::Duplicate(task));
        }
        self.waiting.push_back((task, num_nodes));
        Ok(self.grant())
    }

    /// Task `task` ended (or was cancelled while waiting): its nodes are free again.
    /// Returns the tasks that may start now. Unknown tasks are ignored.
    pub fn release(&mut self, task: u64) -> Vec<Grant> {
        if let Some(nodes) = self.held.remove(&task) {
            self.free.extend(nodes);
        } else {
            self.waiting.retain(|(t, _)| *t != task);
        }
        self.grant()
    }

    fn grant(&mut self) -> Vec<Grant> {
        let mut out = Vec::new();
        while let Some(&(task, need)) = self.waiting.front() {
            if self.free.len() < need {
                break; // first in line waits, and so does everyone behind it
            }
            self.waiting.pop_front();
            let taken: Vec<usize> = self.free.iter().copied().take(need).collect();
            for i in &taken {
                self.free.remove(i);
            }
            out.push(Grant { task, nodes: taken.iter().map(|&i| self.nodes[i].clone()).collect() });
            self.held.insert(task, taken);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: usize) -> NodeScheduler {
        NodeScheduler::new((1..=n).map(|i| format!("n{i}")).collect())
    }

    fn tasks(grants: &[Grant]) -> Vec<u64> {
        grants.iter().map(|g| g.task).collect()
    }

    #[test]
    fn tasks_share_the_block_and_wait_their_turn() {
        let mut s = block(4);
        assert_eq!(s.submit(1, 2).unwrap(), [Grant { task: 1, nodes: vec!["n1".into(), "n2".into()] }]);
        assert_eq!(tasks(&s.submit(2, 1).unwrap()), [2]);
        assert!(s.submit(3, 2).unwrap().is_empty(), "one node free, two asked: it waits");
        assert_eq!((s.free(), s.waiting()), (1, 1));
        let next = s.release(1);
        assert_eq!(next, [Grant { task: 3, nodes: vec!["n1".into(), "n2".into()] }]);
    }

    #[test]
    fn scattered_free_nodes_are_used_together() {
        let mut s = block(5);
        for t in 1..=5 {
            s.submit(t, 1).unwrap();
        }
        assert!(s.submit(9, 3).unwrap().is_empty());
        assert!(s.release(2).is_empty() && s.release(4).is_empty());
        assert_eq!(s.release(5), [Grant { task: 9, nodes: vec!["n2".into(), "n4".into(), "n5".into()] }]);
    }

    #[test]
    fn a_task_larger_than_the_block_is_an_error_at_once() {
        let mut s = block(2);
        let e = s.submit(1, 3).unwrap_err();
        assert_eq!(e, ScheduleError::TooLarge { task: 1, asked: 3, block: 2 });
        assert!(e.to_string().contains("nodes_per_block"));
        assert_eq!(s.submit(2, 0), Err(ScheduleError::NoNodes { task: 2 }));
        s.submit(3, 1).unwrap();
        assert_eq!(s.submit(3, 1), Err(ScheduleError::Duplicate(3)));
    }

    #[test]
    fn a_large_task_is_not_starved_by_a_stream_of_small_ones() {
        let mut s = block(4);
        s.submit(1, 1).unwrap();
        s.submit(2, 1).unwrap();
        assert!(s.submit(100, 4).unwrap().is_empty(), "the big one waits for all four");
        // Small tasks keep coming, and nodes free up one at a time: none of them may
        // take a node the big task is waiting for.
        for small in 3..23 {
            assert!(s.submit(small, 1).unwrap().is_empty());
        }
        assert!(s.release(1).is_empty());
        let started = s.release(2);
        assert_eq!(tasks(&started), [100], "the big task goes first once all four are free");
        let after = s.release(100);
        assert_eq!(tasks(&after), [3, 4, 5, 6], "then the small ones, in order");
    }

    #[test]
    fn a_dead_worker_or_a_cancelled_wait_gives_everything_back() {
        let mut s = block(3);
        s.submit(1, 3).unwrap();
        assert!(s.submit(2, 2).unwrap().is_empty());
        assert!(s.submit(3, 1).unwrap().is_empty());
        assert!(s.release(2).is_empty(), "2 gave up waiting");
        assert_eq!(s.waiting(), 1);
        assert_eq!(tasks(&s.release(1)), [3], "1's worker died: its nodes go to the next in line");
        assert_eq!(s.release(42), [], "unknown tasks are ignored");
    }
}
