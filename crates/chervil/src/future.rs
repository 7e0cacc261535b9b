//! Futures: what calling an app returns, and how a future becomes another app's argument.
//!
//! Every task's outcome lives in one [`Slot`]: the encoded result bytes, or the
//! [`Error`]. An [`AppFuture<T>`] is a typed handle on a slot; it decodes `T` when asked,
//! so the same slot serves the user, the tasks that depend on it (which take the bytes
//! as they are), and the memo table.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::Error;

/// A task's outcome: its encoded result, or why it has none.
pub(crate) type Outcome = Result<Arc<[u8]>, Error>;

type Callback = Box<dyn FnOnce(&Outcome) + Send>;

#[derive(Default)]
struct SlotState {
    outcome: Option<Outcome>,
    /// Threads blocked in `wait`: the condvar is signalled only when there are some,
    /// since a signal is a system call even with no one to wake.
    sleepers: u32,
    wakers: Vec<Waker>,
    callbacks: Vec<Callback>,
}

/// Where one task's outcome arrives, once.
pub(crate) struct Slot {
    pub(crate) tid: u64,
    /// The DataFlowKernel that owns the task (its futures are dependencies it tracks
    /// by id; any other future is waited on through a callback).
    pub(crate) dfk: u64,
    state: Mutex<SlotState>,
    ready: Condvar,
}

impl Slot {
    pub(crate) fn new(tid: u64, dfk: u64) -> Arc<Slot> {
        Arc::new(Slot { tid, dfk, state: Mutex::new(SlotState::default()), ready: Condvar::new() })
    }

    /// A slot that is already done, for tasks refused at submission.
    pub(crate) fn done(outcome: Outcome) -> Arc<Slot> {
        let slot = Slot::new(u64::MAX, 0);
        slot.set(outcome);
        slot
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the outcome; the first one set stands. Wakes waiters and runs callbacks.
    pub(crate) fn set(&self, outcome: Outcome) {
        let (wakers, callbacks, sleepers) = {
            let mut s = self.lock();
            if s.outcome.is_some() {
                return;
            }
            s.outcome = Some(outcome.clone());
            (std::mem::take(&mut s.wakers), std::mem::take(&mut s.callbacks), s.sleepers)
        };
        if sleepers > 0 {
            self.ready.notify_all();
        }
        for w in wakers {
            w.wake();
        }
        for cb in callbacks {
            cb(&outcome);
        }
    }

    pub(crate) fn outcome(&self) -> Option<Outcome> {
        self.lock().outcome.clone()
    }

    /// Runs `f` with the outcome: now if there is one, else when it is set.
    pub(crate) fn on_done(&self, f: impl FnOnce(&Outcome) + Send + 'static) {
        let mut s = self.lock();
        match s.outcome.clone() {
            Some(o) => {
                drop(s);
                f(&o);
            }
            None => s.callbacks.push(Box::new(f)),
        }
    }

    /// Blocks until the outcome is set (or `timeout` passes: `None`).
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Option<Outcome> {
        if let Some(o) = self.outcome() {
            return Some(o);
        }
        crate::executors::flush_all(); // what this task waits for may still wait in an interchange inbox
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.lock();
        loop {
            if let Some(o) = &s.outcome {
                return Some(o.clone());
            }
            s.sleepers += 1;
            match deadline {
                None => s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => s = self.ready.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0,
                    None => {
                        s.sleepers -= 1;
                        return None;
                    }
                },
            }
            s.sleepers -= 1;
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut s = self.lock();
        match &s.outcome {
            Some(o) => Poll::Ready(o.clone()),
            None => {
                drop(s);
                crate::executors::flush_all(); // as `wait`: nothing waits in an inbox while we sleep
                s = self.lock();
                if let Some(o) = &s.outcome {
                    return Poll::Ready(o.clone());
                }
                if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    s.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// What calling an app returns: the task's result, when it has one.
///
/// `result()` blocks; `.await` works on any async runtime (the future is woken from the
/// thread that completes the task). Clone it freely: every clone refers to the same
/// task. Pass it (or a reference to it) as another app's argument to make that task
/// wait for this one and receive its value.
pub struct AppFuture<T> {
    pub(crate) slot: Arc<Slot>,
    pub(crate) outputs: Arc<[DataFuture]>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for AppFuture<T> {
    fn clone(&self) -> Self {
        AppFuture { slot: self.slot.clone(), outputs: self.outputs.clone(), _t: PhantomData }
    }
}

impl<T> std::fmt::Debug for AppFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.slot.outcome() {
            None => "pending",
            Some(Ok(_)) => "done",
            Some(Err(_)) => "failed",
        };
        write!(f, "AppFuture(task {}, {state})", self.slot.tid)
    }
}

impl<T> AppFuture<T> {
    pub(crate) fn new(slot: Arc<Slot>, outputs: Vec<DataFuture>) -> Self {
        AppFuture { slot, outputs: outputs.into(), _t: PhantomData }
    }

    /// The task's id in its DataFlowKernel (counting from 0, as Parsl's).
    pub fn tid(&self) -> u64 {
        self.slot.tid
    }

    /// Whether the task has reached a final state.
    pub fn done(&self) -> bool {
        self.slot.outcome().is_some()
    }

    /// The task's error, once it has failed; `None` while it runs or after success.
    pub fn exception(&self) -> Option<Error> {
        self.slot.outcome().and_then(|o| o.err())
    }

    /// One [`DataFuture`] per file of the call's `outputs`, done when the task is.
    pub fn outputs(&self) -> &[DataFuture] {
        &self.outputs
    }
}

impl<T: DeserializeOwned> AppFuture<T> {
    /// Waits for the task and returns its value (or its error).
    pub fn result(&self) -> Result<T, Error> {
        decode_outcome(self.slot.wait(None).unwrap_or_else(|| Err(Error::Executor("the task was never completed".into()))))
    }

    /// As [`result`](Self::result), giving up after `timeout` (`None` then).
    pub fn result_timeout(&self, timeout: Duration) -> Option<Result<T, Error>> {
        self.slot.wait(Some(timeout)).map(decode_outcome)
    }
}

fn decode_outcome<T: DeserializeOwned>(outcome: Outcome) -> Result<T, Error> {
    let bytes = outcome?;
    codec::decode(&bytes, "the task's result")
}

impl<T: DeserializeOwned> std::future::Future for AppFuture<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll(cx).map(decode_outcome)
    }
}

/// A file, named by a path or a URL, that tasks read and write (Parsl's `File`).
///
/// An `http://`, `https://` or `ftp://` file given to an app is staged in as Parsl's
/// default staging does it: a fetch task of its own runs first on the same executor,
/// the app waits for it, and then finds the file at [`filepath`](File::filepath), in its
/// worker's directory under the URL's file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct File {
    url: String,
    /// Where a fetched copy is (Parsl's `File.local_path`).
    local_path: Option<String>,
}

impl File {
    /// `File::new("data/in.txt")`, a `file://` URL, or an `http(s)://`/`ftp://` URL.
    pub fn new(url: impl Into<String>) -> File {
        File { url: url.into(), local_path: None }
    }

    /// Where the file is on the local file system: its path, or for a URL where its
    /// fetched copy is (the URL's last path segment, in the worker's directory).
    pub fn filepath(&self) -> PathBuf {
        if let Some(local) = &self.local_path {
            return PathBuf::from(local);
        }
        match self.remote() {
            true => PathBuf::from(crate::staging::file_name(&self.url)),
            false => PathBuf::from(self.url.strip_prefix("file://").unwrap_or(&self.url)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http`, `https`, `ftp`, or `file` (a plain path too).
    pub fn scheme(&self) -> &str {
        match self.url.split_once("://") {
            Some((scheme, _)) => scheme,
            None => "file",
        }
    }

    /// True for a file that is staged in before a task reads it.
    pub(crate) fn remote(&self) -> bool {
        self.local_path.is_none() && crate::staging::FETCHED.contains(&self.scheme())
    }

    /// True once staging has given it a local copy (fetched, or placed for rsync).
    pub(crate) fn placed(&self) -> bool {
        self.local_path.is_some()
    }

    pub(crate) fn fetched(url: String, local_path: String) -> File {
        File { url, local_path: Some(local_path) }
    }
}

impl std::fmt::Display for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// A file a task will write (one of its `outputs`): done when that task is, failed if
/// it fails. Pass it to another app where a [`File`] is expected to make that app wait.
#[derive(Clone)]
pub struct DataFuture {
    file: File,
    slot: Arc<Slot>,
}

impl DataFuture {
    pub(crate) fn new(file: File, slot: Arc<Slot>) -> Self {
        DataFuture { file, slot }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The id of the task that writes the file.
    pub fn tid(&self) -> u64 {
        self.slot.tid
    }

    pub fn done(&self) -> bool {
        self.slot.outcome().is_some()
    }

    /// Waits for the writing task; the file, or that task's error.
    pub fn result(&self) -> Result<File, Error> {
        match self.slot.wait(None) {
            Some(Ok(_)) => Ok(self.file.clone()),
            Some(Err(e)) => Err(e),
            None => Err(Error::Executor("the task was never completed".into())),
        }
    }
}

impl std::fmt::Debug for DataFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataFuture({}, from task {})", self.file, self.slot.tid)
    }
}

/// An app's argument: a value, or something to wait for first.
pub struct Arg<T> {
    erased: ErasedArg,
    _t: PhantomData<fn() -> T>,
}

impl<T> Arg<T> {
    fn new(kind: ArgKind) -> Self {
        Arg { erased: ErasedArg(kind), _t: PhantomData }
    }

    /// The argument without its type, as the DataFlowKernel keeps it.
    #[doc(hidden)]
    pub fn erase(self) -> ErasedArg {
        self.erased
    }
}

/// An argument as the DataFlowKernel holds it until the task runs.
#[doc(hidden)]
pub struct ErasedArg(pub(crate) ArgKind);

pub(crate) enum ArgKind {
    /// Encoded now (or the reason it could not be).
    Value(Result<Vec<u8>, Error>),
    /// The result of this task, when it has one.
    Result(Arc<Slot>),
    /// This file, once this task has succeeded (a [`DataFuture`]'s).
    After(Arc<Slot>, File),
    /// The results of these tasks, as a `Vec` (Parsl's `inputs=[futures…]`).
    Results(Vec<Arc<Slot>>),
    /// A [`File`]: the submit decides how it gets where the task runs (a remote one
    /// becomes the result of a fetch task; see [`crate::staging::prepare`]).
    Stage(File),
}

impl ErasedArg {
    /// The tasks this argument waits for.
    pub(crate) fn waits_for(&self) -> &[Arc<Slot>] {
        match &self.0 {
            ArgKind::Value(_) | ArgKind::Stage(_) => &[],
            ArgKind::Result(s) | ArgKind::After(s, _) => std::slice::from_ref(s),
            ArgKind::Results(v) => v,
        }
    }
}

/// What can be given where an app takes a `T`: a `T`, an `AppFuture<T>` (or a reference
/// to one), a list of `AppFuture<U>` where a `Vec<U>` is taken (a fan-in: the task waits
/// for them all), a [`DataFuture`] where a [`File`] is taken, a `&str` where a `String` is.
pub trait IntoArg<T> {
    fn into_arg(self) -> Arg<T>;
}

impl<T: Serialize + 'static> IntoArg<T> for T {
    fn into_arg(self) -> Arg<T> {
        Arg::new(value_or_stage(&self))
    }
}

/// A value encoded now, or a [`File`], for the submit to stage.
fn value_or_stage<T: Serialize + 'static>(value: &T) -> ArgKind {
    match (value as &dyn std::any::Any).downcast_ref::<File>() {
        Some(file) => ArgKind::Stage(file.clone()),
        _ => ArgKind::Value(codec::encode(value, "an argument")),
    }
}

impl<T> IntoArg<T> for AppFuture<T> {
    fn into_arg(self) -> Arg<T> {
        Arg::new(ArgKind::Result(self.slot))
    }
}

impl<T> IntoArg<T> for &AppFuture<T> {
    fn into_arg(self) -> Arg<T> {
        Arg::new(ArgKind::Result(self.slot.clone()))
    }
}

impl<T> IntoArg<Vec<T>> for Vec<AppFuture<T>> {
    fn into_arg(self) -> Arg<Vec<T>> {
        Arg::new(ArgKind::Results(self.into_iter().map(|f| f.slot).collect()))
    }
}

impl<T> IntoArg<Vec<T>> for &[AppFuture<T>] {
    fn into_arg(self) -> Arg<Vec<T>> {
        Arg::new(ArgKind::Results(self.iter().map(|f| f.slot.clone()).collect()))
    }
}

impl<T> IntoArg<Vec<T>> for &Vec<AppFuture<T>> {
    fn into_arg(self) -> Arg<Vec<T>> {
        self.as_slice().into_arg()
    }
}

impl IntoArg<File> for DataFuture {
    fn into_arg(self) -> Arg<File> {
        (&self).into_arg()
    }
}

impl IntoArg<File> for &DataFuture {
    fn into_arg(self) -> Arg<File> {
        Arg::new(ArgKind::After(self.slot.clone(), self.file.clone()))
    }
}

impl IntoArg<String> for &str {
    fn into_arg(self) -> Arg<String> {
        Arg::new(ArgKind::Value(codec::encode(&self, "an argument")))
    }
}

/// A borrowed value: arguments are encoded when the app is called, so a reference
/// serves as well as the value (`&String`, `&Vec<T>`, `&MyStruct`, …).
impl<T: Serialize + 'static> IntoArg<T> for &T {
    fn into_arg(self) -> Arg<T> {
        Arg::new(value_or_stage(self))
    }
}

/// A slice for a `Vec<T>` parameter (encoded as the `Vec` is).
impl<T: Serialize> IntoArg<Vec<T>> for &[T] {
    fn into_arg(self) -> Arg<Vec<T>> {
        Arg::new(ArgKind::Value(codec::encode(&self, "an argument")))
    }
}

/// A path for a `PathBuf` parameter.
impl IntoArg<std::path::PathBuf> for &std::path::Path {
    fn into_arg(self) -> Arg<std::path::PathBuf> {
        Arg::new(ArgKind::Value(codec::encode(&self, "an argument")))
    }
}
