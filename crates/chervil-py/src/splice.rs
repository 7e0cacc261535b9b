//! Dependent tasks that the engine launches itself.
//!
//! A task whose arguments wait on other tasks of the same executor is pickled when it
//! is submitted, with a placeholder (`chervil.serialize.Slot`) where each dependency's
//! result goes, and its template is kept here. When a result a template waits on comes
//! in, the interchange's results hook (`htex::Book`, on the interchange thread) reports
//! it to the kernel at once; for each task the kernel then launches that has a template,
//! it joins the kept results and the template into the call's bytes and dispatches the
//! try from there. A dependency chain's next link so leaves before the client's Python
//! has seen the link before it, and whatever that Python is busy with (Python records
//! the launch afterwards, from the `LAUNCHED` command). The worker unpickles each kept
//! result where its placeholder was (`chervil.serialize.load_spliced`).
//!
//! Such a result is a success when it arrives, before the client unpickles it: a value
//! that only the workers can read still feeds its dependants, and its own future raises
//! `DeserializationError`. (Any other try's value is read first, and one that cannot be
//! read is a failed try.)
//!
//! Results are kept only while a template waits on them; a template stays until its
//! task finishes (`forget`), since a retry needs the same bytes. When a result is not
//! here (its task returned before the template was made), `payload` says so and the
//! front launches the task its own way.

use std::collections::HashMap;
use std::sync::Arc;

use chervil_htex::Queued;
use chervil_proto::MAX_PAYLOAD;

/// The first byte of a spliced call (a pickle's is 0x80): `chervil.serialize.SPLICED`.
pub(crate) const SPLICED: u8 = 1;

/// A task's call, pickled with placeholders for its dependencies' results.
pub(crate) struct Template {
    pub function: u64,
    pub call: Vec<u8>,
    /// The kernel's task whose result each placeholder stands for, by index.
    pub deps: Vec<u64>,
    pub spec: Vec<(String, String)>,
}

/// The templates of one interchange's tasks, and the results they wait for.
#[derive(Default)]
pub(crate) struct Splices {
    templates: HashMap<u64, Template>,
    /// Templates waiting on each task's result.
    wanted: HashMap<u64, usize>,
    results: HashMap<u64, Arc<[u8]>>,
}

impl Splices {
    /// Keeps `template` for the kernel's `task`.
    pub fn add(&mut self, task: u64, template: Template) {
        for &dep in &template.deps {
            *self.wanted.entry(dep).or_default() += 1;
        }
        if let Some(old) = self.templates.insert(task, template) {
            self.release(&old);
        }
    }

    /// True when a template waits on `task`'s result.
    pub fn wants(&self, task: u64) -> bool {
        self.wanted.contains_key(&task)
    }

    /// No template waits on any result.
    pub fn waiting_on_none(&self) -> bool {
        self.wanted.is_empty()
    }

    /// `task` returned `result`: kept if a template waits on it.
    pub fn returned(&mut self, task: u64, result: &[u8]) {
        if self.wants(task) {
            self.results.insert(task, Arc::from(result));
        }
    }

    /// `(function, call, spec)` for a try of `task`: its template with the results
    /// spliced in. None when `task` has no template, a result is missing, or the call
    /// would be too big for a frame (the front's own launch then says so).
    pub fn payload(&self, task: u64) -> Option<Queued> {
        let t = self.templates.get(&task)?;
        let parts: Option<Vec<&[u8]>> = t.deps.iter().map(|d| self.results.get(d).map(|r| &r[..])).collect();
        let call = splice(&parts?, &t.call)?;
        Some((t.function, call, t.spec.clone()))
    }

    /// `task` finished: its template goes, and each result no other template waits on.
    pub fn forget(&mut self, task: u64) {
        if let Some(t) = self.templates.remove(&task) {
            self.release(&t);
        }
    }

    fn release(&mut self, t: &Template) {
        for dep in &t.deps {
            if let Some(n) = self.wanted.get_mut(dep) {
                *n -= 1;
                if *n == 0 {
                    self.wanted.remove(dep);
                    self.results.remove(dep);
                }
            }
        }
    }

    /// `(templates, results)` held (for tests and leaks).
    pub fn held(&self) -> (usize, usize) {
        (self.templates.len(), self.results.len())
    }
}

/// `SPLICED`, the count of `parts`, each with its length, then `call`; None past a
/// frame's limit.
fn splice(parts: &[&[u8]], call: &[u8]) -> Option<Vec<u8>> {
    let size = 5 + parts.iter().map(|p| 4 + p.len()).sum::<usize>() + call.len();
    if size > MAX_PAYLOAD || parts.len() > u32::MAX as usize {
        return None;
    }
    let mut out = Vec::with_capacity(size);
    out.push(SPLICED);
    out.extend_from_slice(&(parts.len() as u32).to_be_bytes());
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out.extend_from_slice(call);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(deps: Vec<u64>) -> Template {
        Template { function: 7, call: b"CALL".to_vec(), deps, spec: Vec::new() }
    }

    #[test]
    fn splices_kept_results_in_placeholder_order() {
        let mut s = Splices::default();
        s.add(3, template(vec![2, 1]));
        assert!(s.payload(3).is_none(), "no result yet");
        s.returned(1, b"one");
        s.returned(9, b"nobody waits");
        assert_eq!(s.held(), (1, 1));
        s.returned(2, b"two!");
        let (f, call, _) = s.payload(3).unwrap();
        assert_eq!(f, 7);
        assert_eq!(call, b"\x01\0\0\0\x02\0\0\0\x04two!\0\0\0\x03oneCALL");
    }

    #[test]
    fn a_result_stays_while_any_template_waits_on_it() {
        let mut s = Splices::default();
        s.add(3, template(vec![1]));
        s.add(4, template(vec![1, 1]));
        s.returned(1, b"r");
        s.forget(3);
        assert!(s.payload(4).is_some(), "a retry of 4 still needs 1's result");
        s.forget(4);
        assert_eq!(s.held(), (0, 0));
        assert!(!s.wants(1));
        s.forget(4); // twice is harmless
    }

    #[test]
    fn a_call_past_a_frame_is_not_spliced() {
        assert!(splice(&[b"x"], &vec![0; MAX_PAYLOAD]).is_none());
    }
}
