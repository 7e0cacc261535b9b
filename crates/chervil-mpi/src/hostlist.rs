//! A block's nodes, from what the batch scheduler gives the job.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostlistError {
    #[error("host list {list:?} is malformed at {at:?}: {problem}")]
    Malformed { list: String, at: String, problem: &'static str },
}

/// Expands Slurm's compressed host list (`SLURM_NODELIST`, `SLURM_JOB_NODELIST`):
/// `node[01-03,07],gpu5,r[1-2]n[1-2]` → `node01 node02 node03 node07 gpu5 r1n1 r1n2 r2n1
/// r2n2`. Zero padding is kept (`[08-10]` → `08 09 10`). What `scontrol show hostnames`
/// prints, without running it.
pub fn expand_slurm(list: &str) -> Result<Vec<String>, HostlistError> {
    let bad = |at: &str, problem| HostlistError::Malformed { list: list.into(), at: at.into(), problem };
    let mut hosts = Vec::new();
    for item in split_top_level(list).map_err(|p| bad(list, p))? {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        // The name as literal pieces and bracketed choices, expanded left to right.
        let mut partial = vec![String::new()];
        let mut rest = item;
        while !rest.is_empty() {
            match rest.find('[') {
                None => {
                    partial.iter_mut().for_each(|p| p.push_str(rest));
                    rest = "";
                }
                Some(open) => {
                    let literal = &rest[..open];
                    let close = rest[open..].find(']').ok_or_else(|| bad(item, "a '[' without ']'"))? + open;
                    let choices = expand_ranges(&rest[open + 1..close]).map_err(|p| bad(item, p))?;
                    partial = partial
                        .iter()
                        .flat_map(|p| choices.iter().map(move |c| format!("{p}{literal}{c}")))
                        .collect();
                    rest = &rest[close + 1..];
                }
            }
        }
        hosts.extend(partial);
    }
    Ok(hosts)
}

/// Splits at commas that are not inside brackets.
fn split_top_level(list: &str) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, ch) in list.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err("a ']' without '['");
                }
            }
            ',' if depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("a '[' without ']'");
    }
    parts.push(&list[start..]);
    Ok(parts)
}

/// `01-03,07` → `01 02 03 07`.
fn expand_ranges(inside: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    for part in inside.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            None if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => out.push(part.to_string()),
            Some((lo, hi)) if !lo.is_empty() && lo.bytes().all(|b| b.is_ascii_digit()) && hi.bytes().all(|b| b.is_ascii_digit()) && !hi.is_empty() => {
                let width = lo.len();
                let (a, b): (u64, u64) = (lo.parse().map_err(|_| "a number too large")?, hi.parse().map_err(|_| "a number too large")?);
                if a > b {
                    return Err("a range that runs backwards");
                }
                if b - a > 100_000 {
                    return Err("a range of more than 100,000 hosts");
                }
                out.extend((a..=b).map(|n| format!("{n:0width$}")));
            }
            _ => return Err("a bracket holding something other than numbers and ranges"),
        }
    }
    Ok(out)
}

/// The hosts of a PBS or Cobalt node file (one per line; PBS repeats a host once per
/// core or chunk): each once, in first-seen order.
pub fn from_nodefile(text: &str) -> Vec<String> {
    unique(text.lines().map(str::trim).filter(|l| !l.is_empty()))
}

/// LSF's `LSB_MCPU_HOSTS` (`host1 4 host2 4`, the first host being the launch host) or
/// `LSB_HOSTS` (`host1 host1 host2 …`): each host once, in order.
pub fn from_lsf(mcpu_hosts: Option<&str>, hosts: Option<&str>) -> Vec<String> {
    match (mcpu_hosts, hosts) {
        (Some(m), _) if !m.trim().is_empty() => unique(m.split_whitespace().step_by(2)),
        (_, Some(h)) => unique(h.split_whitespace()),
        _ => Vec::new(),
    }
}

/// The block's nodes, from the first of what the batch scheduler set for the job:
/// `SLURM_JOB_NODELIST` / `SLURM_NODELIST`, `PBS_NODEFILE`, `LSB_MCPU_HOSTS` /
/// `LSB_HOSTS`, `COBALT_NODEFILE`; without any, the pool's own host alone. `var` reads an
/// environment variable and `read` a file, so this stays testable without either.
pub fn block_nodes(
    var: impl Fn(&str) -> Option<String>,
    read: impl Fn(&str) -> Option<String>,
    own_host: &str,
) -> Result<Vec<String>, HostlistError> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(list) = set("SLURM_JOB_NODELIST").or_else(|| set("SLURM_NODELIST")) {
        return expand_slurm(&list);
    }
    for file_var in ["PBS_NODEFILE"] {
        if let Some(text) = set(file_var).and_then(|path| read(&path)) {
            return Ok(from_nodefile(&text));
        }
    }
    let lsf = from_lsf(set("LSB_MCPU_HOSTS").as_deref(), set("LSB_HOSTS").as_deref());
    if !lsf.is_empty() {
        return Ok(lsf);
    }
    if let Some(text) = set("COBALT_NODEFILE").and_then(|path| read(&path)) {
        return Ok(from_nodefile(&text));
    }
    Ok(vec![own_host.to_string()])
}

fn unique<'a>(hosts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    hosts.filter(|h| seen.insert(*h)).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_lists_expand_like_scontrol() {
        assert_eq!(expand_slurm("node[01-03,07],gpu5").unwrap(), ["node01", "node02", "node03", "node07", "gpu5"]);
        assert_eq!(expand_slurm("r[1-2]n[1-2]").unwrap(), ["r1n1", "r1n2", "r2n1", "r2n2"]);
        assert_eq!(expand_slurm("c[08-10]").unwrap(), ["c08", "c09", "c10"]);
        assert_eq!(expand_slurm("single").unwrap(), ["single"]);
        assert_eq!(expand_slurm("a-1,b[2]").unwrap(), ["a-1", "b2"]);
        for bad in ["n[1-3", "n]1[", "n[3-1]", "n[a-b]", "n[1-]"] {
            let e = expand_slurm(bad).unwrap_err().to_string();
            assert!(e.contains("malformed"), "{bad}: {e}");
        }
    }

    #[test]
    fn node_files_and_lsf_lists_give_each_host_once() {
        assert_eq!(from_nodefile("n1\nn1\nn2\n\nn1\nn3\n"), ["n1", "n2", "n3"]);
        assert_eq!(from_lsf(Some("login1 1 n1 4 n2 4"), None), ["login1", "n1", "n2"]);
        assert_eq!(from_lsf(None, Some("n1 n1 n1 n2 n2")), ["n1", "n2"]);
        assert!(from_lsf(None, None).is_empty());
    }

    #[test]
    fn the_schedulers_variables_are_tried_in_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let files = |p: &str| (p == "/pbs/nodes").then(|| "a\nb\na\n".to_string());
        assert_eq!(block_nodes(env(&[("SLURM_NODELIST", "n[1-2]")]), files, "me").unwrap(), ["n1", "n2"]);
        assert_eq!(block_nodes(env(&[("PBS_NODEFILE", "/pbs/nodes")]), files, "me").unwrap(), ["a", "b"]);
        assert_eq!(block_nodes(env(&[("LSB_HOSTS", "x x y")]), files, "me").unwrap(), ["x", "y"]);
        assert_eq!(block_nodes(env(&[]), files, "me").unwrap(), ["me"]);
        assert!(block_nodes(env(&[("SLURM_NODELIST", "n[1-")]), files, "me").is_err());
    }
}
