//! The bytes on their way to one pool, and who writes them.
//!
//! Frames are queued here in the order the dispatch core decides them (under its lock,
//! so a function always precedes the tasks that call it). Whoever queued them then
//! tries to write them at once from its own thread ([`Outbox::flush_here`]), when the
//! link is a plain socket: a task the client submits goes out on the client's thread,
//! without waking the interchange's, and a result's follow-up task on the interchange
//! thread without a hop through the writer task. What the socket does not take at once
//! (it is full), and everything on a TLS link, the link's writer task sends
//! ([`Outbox::next_chunk`]). One writer at a time, chosen under the outbox's lock, and a
//! chunk left over goes back in front of what was queued meanwhile, so bytes leave in
//! the order they were queued.

use std::io;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::link::DirectSocket;

#[derive(Default)]
struct State {
    /// Queued and not yet written.
    pending: Vec<u8>,
    /// Someone (the writer task, or a thread in `flush_here`) is writing a chunk now.
    writing: bool,
    /// The link is closed: nothing more is queued; the writer ends once `pending` is out.
    closed: bool,
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer task.
    wake: Notify,
    /// The socket, for writes from other threads (a plain link only).
    direct: Option<DirectSocket>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Outbox {
    /// `direct`: a handle on the link's socket (non-blocking, as the runtime set it),
    /// when frames may be written to it from any thread.
    pub(crate) fn new(direct: Option<DirectSocket>) -> Outbox {
        Outbox { state: Mutex::new(State::default()), wake: Notify::new(), direct }
    }

    /// Queues a frame: `None` once the link is closed, else whether it is the first
    /// frame waiting (the caller flushes then; after a later one, whoever queued or is
    /// writing the first takes it along).
    pub(crate) fn push(&self, frame: Vec<u8>) -> Option<bool> {
        let mut st = lock(&self.state);
        if st.closed {
            return None;
        }
        let first = st.pending.is_empty();
        if first {
            st.pending = frame; // moved, not copied: a frame can hold a large argument
        } else {
            st.pending.extend_from_slice(&frame);
        }
        Some(first)
    }

    /// Writes what is queued from this thread, as far as the socket takes it without
    /// waiting; the rest (or all of it, on a TLS link or while another writes) is left to
    /// the writer task, which is woken for it.
    pub(crate) fn flush_here(&self) {
        let Some(socket) = &self.direct else {
            self.wake.notify_one();
            return;
        };
        let chunk = {
            let mut st = lock(&self.state);
            if st.writing || st.pending.is_empty() {
                return; // the one writing takes these after its chunk
            }
            st.writing = true;
            std::mem::take(&mut st.pending)
        };
        let mut written = 0;
        let failed = loop {
            match socket.write(&chunk[written..]) {
                Ok(0) => break true,
                Ok(n) => {
                    written += n;
                    if written == chunk.len() {
                        break false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Full (or broken: the writer task meets the error and the reader reports it).
                Err(_) => break true,
            }
        };
        let mut st = lock(&self.state);
        st.writing = false;
        // The writer task takes over what is left, and ends if the link closed meanwhile.
        let wake = failed || st.closed || !st.pending.is_empty();
        if failed {
            let mut rest = chunk[written..].to_vec();
            rest.append(&mut st.pending);
            st.pending = rest;
        }
        drop(st);
        if wake {
            self.wake.notify_one();
        }
    }

    /// The writer task's next chunk, waiting for one; `None` once closed and written.
    pub(crate) async fn next_chunk(&self) -> Option<Vec<u8>> {
        loop {
            let woken = self.wake.notified();
            {
                let mut st = lock(&self.state);
                if !st.writing && !st.pending.is_empty() {
                    st.writing = true;
                    return Some(std::mem::take(&mut st.pending));
                }
                if st.closed && !st.writing && st.pending.is_empty() {
                    return None;
                }
            }
            woken.await;
        }
    }

    /// The writer task wrote its chunk.
    pub(crate) fn chunk_written(&self) {
        lock(&self.state).writing = false;
    }

    /// No more frames: the writer ends once the queued ones are out.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::sync::{mpsc, Arc};
    use tokio::io::AsyncWriteExt;

    /// Frames pushed and flushed from one thread while the writer task runs on another,
    /// through a socket that fills up (8 MiB against a reader that takes its time):
    /// every byte arrives, in the order queued, and the writer ends once closed.
    #[test]
    fn bytes_leave_in_order_whoever_writes_them() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let (tx, rx) = mpsc::channel();
        let driver = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                ours.set_nonblocking(true).unwrap();
                let ours = tokio::net::TcpStream::from_std(ours).unwrap();
                // SAFETY: `ours` is held open until the writer below ends.
                let direct = unsafe { crate::link::direct_writer(ours.as_raw_fd()) };
                assert!(direct.is_some());
                let outbox = Arc::new(Outbox::new(direct));
                tx.send(outbox.clone()).unwrap();
                let (_rd, mut wr) = tokio::io::split(ours);
                while let Some(chunk) = outbox.next_chunk().await {
                    wr.write_all(&chunk).await.unwrap();
                    outbox.chunk_written();
                }
                wr.shutdown().await.unwrap();
            });
        });
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match peer.read(&mut buf).unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&buf[..n]),
                }
                if got.len() % (1 << 20) < 4096 {
                    std::thread::yield_now(); // a slow reader now and then: the socket fills
                }
            }
        });
        let outbox = rx.recv().unwrap();
        let mut expected = Vec::new();
        for i in 0..2048u32 {
            let frame = i.to_be_bytes().repeat(1024);
            expected.extend_from_slice(&frame);
            assert!(outbox.push(frame).is_some());
            outbox.flush_here();
        }
        outbox.close();
        assert_eq!(outbox.push(b"late".to_vec()), None, "nothing is queued once closed");
        drop(outbox);
        driver.join().unwrap();
        assert_eq!(reader.join().unwrap(), expected);
    }

    /// Without a direct handle (a TLS link) everything goes through the writer task.
    #[test]
    fn a_link_without_a_socket_of_its_own_leaves_the_writing_to_the_task() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outbox = Outbox::new(None);
        outbox.push(b"one".to_vec());
        outbox.flush_here();
        outbox.push(b"two".to_vec());
        outbox.close();
        rt.block_on(async {
            assert_eq!(outbox.next_chunk().await.as_deref(), Some(&b"onetwo"[..]));
            outbox.chunk_written();
            assert_eq!(outbox.next_chunk().await, None);
        });
    }
}
