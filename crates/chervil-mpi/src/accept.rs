//! What a HighThroughputExecutor accepts as a task's resource specification when the
//! task is submitted: the one rule both fronts ask, so neither can let through what the
//! other refuses.
//!
//! In MPI mode (Parsl's `MPIExecutor`) every task must carry a specification that
//! [`MpiSpec::parse`] accepts and that fits in a block (when the block's size is known:
//! a batch provider's `nodes_per_block`); otherwise a task may carry only a `priority`
//! (a number: lower runs first, as in Parsl's interchange), which the interchange takes
//! out with [`take_priority`] before the task goes to a pool. A refusal names the keys
//! at fault, as Parsl's `InvalidResourceSpecification` does.

use crate::spec::{MpiSpec, Value};

/// Why a task's specification was refused: the keys at fault (none when the task gave
/// none but needed one) and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub keys: Vec<String>,
    pub message: String,
}

/// The one key a task outside MPI mode may carry.
pub const PRIORITY: &str = "priority";

const KNOWN: [&str; 4] = ["num_nodes", "ranks_per_node", "num_ranks", "launcher_options"];

/// The specification as the pools read it (`key`, text) pairs, or why it is refused.
/// `nodes_per_block` is the block's size when the executor knows it before its pools
/// connect (`None`: only the pool knows, and refuses a task larger than its block).
pub fn accept(mpi_mode: bool, pairs: &[(String, Value)], nodes_per_block: Option<u64>) -> Result<Vec<(String, String)>, Refused> {
    let keys = || pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    if !mpi_mode {
        let unknown: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).filter(|k| k != PRIORITY).collect();
        if !unknown.is_empty() {
            return Err(Refused {
                keys: unknown,
                message: "Task resource specification only accepts these types of resources: priority \
                          (a number; lower runs first). The MPI keys (num_nodes, ranks_per_node, num_ranks, \
                          launcher_options) need MPI mode: send the task to an MPIExecutor"
                    .into(),
            });
        }
        return pairs.iter().map(|(k, v)| Ok((k.clone(), priority_text(v)?))).collect();
    }
    if pairs.is_empty() {
        return Err(Refused {
            keys: Vec::new(),
            message: "an MPIExecutor task needs parsl_resource_specification={'num_nodes': N, 'ranks_per_node': M} \
                      (or num_ranks) on the app call"
                .into(),
        });
    }
    let spec = MpiSpec::parse(pairs).map_err(|e| {
        let unknown: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).filter(|k| !KNOWN.contains(&k.as_str())).collect();
        Refused { keys: if unknown.is_empty() { keys() } else { unknown }, message: e.to_string() }
    })?;
    if let Some(limit) = nodes_per_block {
        if spec.num_nodes > limit {
            return Err(Refused {
                keys: vec!["num_nodes".into()],
                message: format!(
                    "num_nodes {} is more than a block of this executor can ever have (nodes_per_block={limit}); \
                     ask for at most {limit}, or raise the provider's nodes_per_block",
                    spec.num_nodes
                ),
            });
        }
    }
    Ok(pairs
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Int(i) => i.to_string(),
                Value::Text(t) => t.clone(),
            };
            (k.clone(), text)
        })
        .collect())
}

/// A priority as the interchange reads it back: any number but NaN.
fn priority_text(v: &Value) -> Result<String, Refused> {
    let text = match v {
        Value::Int(i) => return Ok(i.to_string()),
        Value::Text(t) => t.trim(),
    };
    match text.parse::<f64>() {
        Ok(p) if !p.is_nan() => Ok(text.to_string()),
        _ => Err(Refused {
            keys: vec![PRIORITY.into()],
            message: format!("priority must be a number (lower runs first), not {text:?}"),
        }),
    }
}

/// Takes a task's `priority` out of its specification (what [`accept`] let through),
/// leaving what the pool reads. `None` when it has none, or an infinite one: such
/// tasks run after every task with a finite priority, in the order they came.
pub fn take_priority(spec: &mut Vec<(String, String)>) -> Option<f64> {
    let at = spec.iter().position(|(k, _)| k == PRIORITY)?;
    let (_, text) = spec.remove(at);
    text.trim().parse::<f64>().ok().filter(|p| p.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::{Int, Text};

    fn pairs(p: &[(&str, Value)]) -> Vec<(String, Value)> {
        p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn an_mpi_task_gets_its_specification_as_text() {
        let got = accept(true, &pairs(&[("num_nodes", Int(2)), ("ranks_per_node", Text("4".into()))]), Some(3));
        assert_eq!(got, Ok(vec![("num_nodes".into(), "2".into()), ("ranks_per_node".into(), "4".into())]));
        assert_eq!(accept(false, &[], None), Ok(Vec::new()), "a plain task on a plain executor");
    }

    #[test]
    fn refusals_name_the_keys_at_fault() {
        let unknown = accept(true, &pairs(&[("num_nodes", Int(1)), ("cores", Int(2))]), None).unwrap_err();
        assert_eq!(unknown.keys, vec!["cores".to_string()]);
        let disagree = accept(true, &pairs(&[("num_nodes", Int(2)), ("ranks_per_node", Int(2)), ("num_ranks", Int(5))]), None)
            .unwrap_err();
        assert_eq!(disagree.keys.len(), 3);
        assert!(disagree.message.contains("num_ranks 5 is not num_nodes 2"), "{disagree}");
        let big = accept(true, &pairs(&[("num_nodes", Int(4)), ("ranks_per_node", Int(1))]), Some(3)).unwrap_err();
        assert_eq!(big.keys, vec!["num_nodes".to_string()]);
        assert!(big.message.contains("nodes_per_block=3"), "{big}");
        let none = accept(true, &[], None).unwrap_err();
        assert!(none.keys.is_empty() && none.message.contains("MPIExecutor task needs"), "{none}");
        let plain = accept(false, &pairs(&[("num_nodes", Int(1)), ("priority", Int(1))]), None).unwrap_err();
        assert!(plain.message.contains("MPIExecutor") && plain.keys == vec!["num_nodes".to_string()], "{plain}");
        let word = accept(false, &pairs(&[("priority", Text("high".into()))]), None).unwrap_err();
        assert!(word.keys == vec!["priority".to_string()] && word.message.contains("number"), "{word}");
        assert!(accept(false, &pairs(&[("priority", Text("nan".into()))]), None).is_err());
        assert!(accept(true, &pairs(&[("num_nodes", Int(1)), ("priority", Int(1))]), None).is_err(), "not in MPI mode");
    }

    #[test]
    fn a_plain_task_may_carry_a_priority_which_the_interchange_takes_out() {
        let mut spec = accept(false, &pairs(&[("priority", Int(-3))]), None).unwrap();
        assert_eq!(take_priority(&mut spec), Some(-3.0));
        assert!(spec.is_empty(), "nothing is left for the pool");
        let mut spec = accept(false, &pairs(&[("priority", Text("2.5".into()))]), None).unwrap();
        assert_eq!(take_priority(&mut spec), Some(2.5));
        let mut spec = accept(false, &pairs(&[("priority", Text("inf".into()))]), None).unwrap();
        assert_eq!(take_priority(&mut spec), None, "infinite: as if none");
        assert_eq!(take_priority(&mut Vec::new()), None);
    }
}
