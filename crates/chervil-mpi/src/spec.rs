//! A task's `parsl_resource_specification`, checked and completed as Parsl does.
//!
//! Keys: `num_nodes`, `ranks_per_node`, `num_ranks`, `launcher_options`. Like Parsl, a
//! missing count is derived from the other two (`num_ranks = num_nodes ×
//! ranks_per_node`, `ranks_per_node = num_ranks / num_nodes`), and the text of each
//! value is kept as Parsl would print it in the launch prefix (Parsl derives
//! `ranks_per_node` with a float division, so it prints `2.0`). Unlike Parsl, counts that
//! cannot work are refused at submission rather than failing inside `mpiexec`: zero or
//! negative counts, counts that disagree, ranks that do not divide over the nodes.

use thiserror::Error;

/// A value as the user wrote it in the specification dict.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    #[error("MPI tasks need parsl_resource_specification={{'num_nodes': N, 'ranks_per_node': M}} (or num_ranks); this task gave none")]
    Empty,
    #[error("parsl_resource_specification has keys MPI tasks do not take: {keys}; the keys are num_nodes, ranks_per_node, num_ranks and launcher_options")]
    UnknownKeys { keys: String },
    #[error("parsl_resource_specification['{key}'] = {value:?}: give a whole number of at least 1")]
    NotACount { key: &'static str, value: String },
    #[error("parsl_resource_specification['launcher_options'] must be text, e.g. '--cpu-bind=cores'")]
    Options,
    #[error("parsl_resource_specification: num_ranks {num_ranks} is not num_nodes {num_nodes} × ranks_per_node {ranks_per_node}; give two of the three, or three that agree")]
    Disagree { num_nodes: u64, ranks_per_node: u64, num_ranks: u64 },
    #[error("parsl_resource_specification: num_ranks {num_ranks} does not divide over num_nodes {num_nodes}; give ranks_per_node too, or a multiple of num_nodes")]
    Uneven { num_nodes: u64, num_ranks: u64 },
    #[error("parsl_resource_specification: give num_ranks or ranks_per_node, so the launcher knows how many ranks to start")]
    NoRanks,
}

/// A checked specification: counts as numbers, and each as the text Parsl's prefix shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpiSpec {
    pub num_nodes: u64,
    pub ranks_per_node: u64,
    pub num_ranks: u64,
    pub launcher_options: String,
    /// The texts Parsl would print for `num_ranks` and `ranks_per_node`.
    pub num_ranks_text: String,
    pub ranks_per_node_text: String,
}

fn count(key: &'static str, v: &Value) -> Result<u64, SpecError> {
    let n = match v {
        Value::Int(i) => *i,
        Value::Text(t) => t.trim().parse::<i64>().map_err(|_| SpecError::NotACount { key, value: t.clone() })?,
    };
    u64::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| SpecError::NotACount { key, value: n.to_string() })
}

fn text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Text(t) => t.clone(),
    }
}

impl MpiSpec {
    /// Checks a specification given as `(key, value)` pairs.
    pub fn parse(pairs: &[(String, Value)]) -> Result<MpiSpec, SpecError> {
        if pairs.is_empty() {
            return Err(SpecError::Empty);
        }
        let known = ["num_nodes", "ranks_per_node", "num_ranks", "launcher_options"];
        let mut unknown: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).filter(|k| !known.contains(k)).collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(SpecError::UnknownKeys { keys: unknown.join(", ") });
        }
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let launcher_options = match get("launcher_options") {
            None => String::new(),
            Some(Value::Text(t)) => t.clone(),
            Some(Value::Int(_)) => return Err(SpecError::Options),
        };
        let nodes = get("num_nodes").map(|v| count("num_nodes", v)).transpose()?;
        let per_node = get("ranks_per_node").map(|v| count("ranks_per_node", v)).transpose()?;
        let ranks = get("num_ranks").map(|v| count("num_ranks", v)).transpose()?;
        let num_nodes = nodes.unwrap_or(1);
        let (ranks_per_node, num_ranks, rpn_text, ranks_text) = match (per_node, ranks) {
            (Some(p), Some(r)) => {
                if nodes.is_some() && p * num_nodes != r {
                    return Err(SpecError::Disagree { num_nodes, ranks_per_node: p, num_ranks: r });
                }
                (p, r, text(get("ranks_per_node").unwrap_or(&Value::Int(0))), text(get("num_ranks").unwrap_or(&Value::Int(0))))
            }
            (Some(p), None) => (p, p * num_nodes, text(get("ranks_per_node").unwrap_or(&Value::Int(0))), (p * num_nodes).to_string()),
            (None, Some(r)) => {
                if r % num_nodes != 0 {
                    return Err(SpecError::Uneven { num_nodes, num_ranks: r });
                }
                // Parsl divides with '/', so it prints a float: 4 / 2 → "2.0".
                let rpn = r / num_nodes;
                let shown = if nodes.is_some() { format!("{rpn}.0") } else { rpn.to_string() };
                (rpn, r, shown, text(get("num_ranks").unwrap_or(&Value::Int(0))))
            }
            (None, None) => return Err(SpecError::NoRanks),
        };
        Ok(MpiSpec {
            num_nodes,
            ranks_per_node,
            num_ranks,
            launcher_options,
            num_ranks_text: ranks_text,
            ranks_per_node_text: rpn_text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pairs: &[(&str, Value)]) -> Result<MpiSpec, SpecError> {
        MpiSpec::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Vec<_>>())
    }
    use Value::{Int, Text};

    #[test]
    fn counts_are_completed_as_parsl_completes_them() {
        let s = spec(&[("num_nodes", Int(2)), ("ranks_per_node", Int(3))]).unwrap();
        assert_eq!((s.num_nodes, s.ranks_per_node, s.num_ranks), (2, 3, 6));
        assert_eq!((s.num_ranks_text.as_str(), s.ranks_per_node_text.as_str()), ("6", "3"));
        let s = spec(&[("num_nodes", Int(2)), ("num_ranks", Int(4))]).unwrap();
        assert_eq!((s.ranks_per_node, s.ranks_per_node_text.as_str()), (2, "2.0"));
        let s = spec(&[("num_ranks", Text("4".into())), ("launcher_options", Text("--bind-to core".into()))]).unwrap();
        assert_eq!((s.num_nodes, s.ranks_per_node, s.launcher_options.as_str()), (1, 4, "--bind-to core"));
    }

    #[test]
    fn bad_specifications_name_the_problem() {
        assert_eq!(spec(&[]), Err(SpecError::Empty));
        let e = spec(&[("num_nodes", Int(1)), ("cores", Int(2)), ("memory", Int(1))]).unwrap_err().to_string();
        assert!(e.contains("cores, memory") && e.contains("num_nodes, ranks_per_node"), "{e}");
        assert!(matches!(spec(&[("num_nodes", Int(0)), ("num_ranks", Int(1))]), Err(SpecError::NotACount { key: "num_nodes", .. })));
        assert!(matches!(spec(&[("num_nodes", Text("two".into()))]), Err(SpecError::NotACount { .. })));
        assert!(matches!(
            spec(&[("num_nodes", Int(2)), ("ranks_per_node", Int(2)), ("num_ranks", Int(5))]),
            Err(SpecError::Disagree { .. })
        ));
        assert!(matches!(spec(&[("num_nodes", Int(2)), ("num_ranks", Int(3))]), Err(SpecError::Uneven { .. })));
        assert_eq!(spec(&[("num_nodes", Int(2))]), Err(SpecError::NoRanks));
        assert_eq!(spec(&[("num_nodes", Int(1)), ("num_ranks", Int(1)), ("launcher_options", Int(3))]), Err(SpecError::Options));
    }
}
