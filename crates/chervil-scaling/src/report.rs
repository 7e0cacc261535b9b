//! Why an executor stopped: the text every task then fails with, written once for both
//! fronts. It names each failed block, its scheduler's message, its exit code, and the
//! end of its stdout and stderr files (with where they are), so the first thing a user
//! reads is the block's own complaint — a bad `worker_init`, a missing module — and not a
//! hang or a bare "failed".

/// A block that failed, as the report names it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedBlock {
    pub id: String,
    /// Its state, in Parsl's words (`failed`, `missing`).
    pub state: String,
    /// What the scheduler said.
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    /// Its output streams: name (`stdout`, `stderr`), file, and the end of the file.
    pub outputs: Vec<BlockOutput>,
}

/// The end of one of a block's output files.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOutput {
    pub name: String,
    pub path: Option<String>,
    pub tail: String,
}

/// `header`, then one paragraph per block: `block 3: failed: <message> (EXIT CODE: 1)`
/// (Parsl's words for the code, which scripts and tests look for),
/// then each non-blank output's last lines under `its stderr (<path>) ends with:`. The
/// path is left out when the scheduler's message already quotes it.
pub fn block_failure_report(header: &str, blocks: &[FailedBlock]) -> String {
    let mut parts = Vec::new();
    for b in blocks {
        let mut text = format!("block {}: {}", b.id, b.state);
        if let Some(m) = b.message.as_deref().filter(|m| !m.is_empty()) {
            text += &format!(": {m}");
        }
        if let Some(code) = b.exit_code {
            text += &format!(" (EXIT CODE: {code})");
        }
        for out in &b.outputs {
            let tail = out.tail.trim_end();
            if tail.trim().is_empty() {
                continue;
            }
            let quoted = out.path.as_deref().is_some_and(|p| b.message.as_deref().unwrap_or("").contains(p));
            let place = match out.path.as_deref() {
                Some(p) if !quoted => format!(" ({p})"),
                _ => String::new(),
            };
            text += &format!("\n  its {}{place} ends with:\n    {}", out.name, tail.replace('\n', "\n    "));
        }
        parts.push(text);
    }
    if parts.is_empty() {
        format!("{header}, without a message")
    } else {
        format!("{header}:\n{}", parts.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: &str, message: Option<&str>, code: Option<i32>, outputs: &[(&str, &str, &str)]) -> FailedBlock {
        FailedBlock {
            id: id.into(),
            state: "failed".into(),
            message: message.map(Into::into),
            exit_code: code,
            outputs: outputs
                .iter()
                .map(|(n, p, t)| BlockOutput { name: (*n).into(), path: Some((*p).into()), tail: (*t).into() })
                .collect(),
        }
    }

    #[test]
    fn each_block_with_its_message_code_and_the_end_of_its_outputs() {
        let report = block_failure_report(
            "every block failed",
            &[
                block("0", Some("exited"), Some(127), &[("stdout", "/r/0.out", ""), ("stderr", "/r/0.err", "a\nno module x\n")]),
                block("1", None, None, &[]),
            ],
        );
        assert_eq!(
            report,
            "every block failed:\nblock 0: failed: exited (EXIT CODE: 127)\n  its stderr (/r/0.err) ends with:\n    a\n    no module x\nblock 1: failed"
        );
    }

    #[test]
    fn a_path_the_message_quotes_is_not_repeated() {
        let report = block_failure_report("x", &[block("2", Some("see /r/2.err"), Some(1), &[("stderr", "/r/2.err", "boom")])]);
        assert!(report.contains("its stderr ends with:\n    boom"), "{report}");
    }

    #[test]
    fn no_block_to_name_says_so() {
        assert_eq!(block_failure_report("the last 3 blocks failed", &[]), "the last 3 blocks failed, without a message");
    }
}
