//! The interchange's local socket: a Unix socket that pools on the client's own machine
//! connect to instead of TCP on loopback.
//!
//! Why: on loopback every frame still goes through the whole TCP stack twice (segments,
//! acknowledgements, the softirq that hands them over), and on a small machine that was a
//! quarter of the interchange thread's CPU and a fifth of the pool's. A Unix stream socket
//! hands the bytes over directly. Measured on the 2-core box, alternated with pools told only
//! the TCP address (`benchmarks/results-2026-12-07-local-socket.txt`): one task at a time
//! 0.288 → 0.242 ms median, a dependency chain 4,776 → 5,150 links/s, no-op tasks 11,600 →
//! 13,700 tasks/s, and 134 → 118 µs of CPU a task over the whole run (pool 33 → 28).
//!
//! The socket has an abstract name (Linux): nothing on the file system to clean up after a
//! crash, and no path under a deep run directory to outgrow a socket address's 108 bytes. Its reach is that of loopback —
//! the processes of this machine, in the same network namespace — which is why, as on
//! loopback, the link is plain and the run's secret (the pool's Hello) is what admits a pool.
//!
//! Pools learn the name as one of their `--addresses`, written `@name`; they try such
//! addresses first and fall back to TCP, so a pool that cannot reach it (another machine,
//! another network namespace) still connects as before.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UnixListener;

/// How an address names a local socket: `@` and the socket's abstract name.
pub const PREFIX: char = '@';

/// The local socket's name in an address (`@name`), if `address` is one.
pub fn name_of(address: &str) -> Option<&str> {
    address.strip_prefix(PREFIX)
}

/// The name the interchange of process `pid` listening on TCP `port` gives its local socket:
/// both together are unique in its network namespace (where abstract names live) while it runs. (Not "interchange":
/// tools that tell Parsl's interchange process from its pools by command line would take a
/// pool told this address for one.)
pub fn name_for(pid: u32, port: u16) -> String {
    format!("chervil-pools-{pid}-{port}")
}

/// Listens on the abstract socket `name` (inside a tokio runtime).
pub fn bind(name: &str) -> io::Result<UnixListener> {
    let listener = std::os::unix::net::UnixListener::bind_addr(&abstract_address(name)?)?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

/// Connects to the abstract socket `name` (inside a tokio runtime). A local connect
/// answers at once: refused when nobody listens under that name here.
pub fn connect(name: &str) -> io::Result<LocalStream> {
    let stream = std::os::unix::net::UnixStream::connect_addr(&abstract_address(name)?)?;
    stream.set_nonblocking(true)?;
    LocalStream::new(stream)
}

/// A link over the local socket, registered with the runtime for reading only.
///
/// Why: a Unix socket tells its writer "writable" each time the reader takes bytes out
/// (TCP does only after the writer found its buffer full), and a tokio stream is
/// registered for both directions. So every frame one side sent woke the other side's
/// sleeping runtime thread a moment later, when the peer read it: one wake per task on
/// the interchange's thread and one on the pool's, for nothing. Here writes go straight
/// to the socket; a write that finds it full registers a second handle for writability,
/// until it has written.
pub struct LocalStream {
    socket: AsyncFd<std::os::unix::net::UnixStream>,
    /// A duplicate of the socket, registered for writability while a write waits.
    write_wait: Option<AsyncFd<OwnedFd>>,
}

impl LocalStream {
    /// `stream` must be non-blocking.
    pub fn new(stream: std::os::unix::net::UnixStream) -> io::Result<LocalStream> {
        // SAFETY: the stream owns its descriptor, which stays open and the same until the
        // AsyncFd (which owns the stream) is dropped.
        let socket = unsafe { AsyncFd::register_with_interest(stream, Interest::READABLE) }?;
        Ok(LocalStream { socket, write_wait: None })
    }

    /// A connection the runtime's listener accepted.
    pub fn accepted(stream: tokio::net::UnixStream) -> io::Result<LocalStream> {
        LocalStream::new(stream.into_std()?)
    }

    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: the socket is open while `self` lives; `buf` is valid for its length.
        // MSG_NOSIGNAL: a peer gone is an error, never a SIGPIPE for the process.
        let n = unsafe { libc::send(self.socket.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

impl AsRawFd for LocalStream {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsyncRead for LocalStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.socket.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let room = unfilled.len();
            match guard.try_io(|s| s.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    if n > 0 && n < room {
                        // A short read took all there was: the next read waits for the
                        // next edge instead of trying once more for nothing (as tokio's
                        // own streams do).
                        guard.clear_ready();
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for LocalStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match this.send(buf) {
                Ok(n) => {
                    this.write_wait = None; // written: no more wakes for writability
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Poll::Ready(Err(e)),
                Err(_) => {}
            }
            if this.write_wait.is_none() {
                // Registered after the failed write: epoll reports the socket at once if
                // it became writable in between, so no wake is lost.
                let dup = OwnedFd::from(this.socket.get_ref().try_clone()?);
                // SAFETY: as in `new`: the AsyncFd owns this duplicate descriptor.
                this.write_wait = Some(unsafe { AsyncFd::register_with_interest(dup, Interest::WRITABLE) }?);
            }
            if let Some(wait) = &this.write_wait {
                let mut guard = ready!(wait.poll_write_ready(cx))?;
                guard.clear_ready();
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.socket.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(target_os = "linux")]
fn abstract_address(name: &str) -> io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
}

#[cfg(not(target_os = "linux"))]
fn abstract_address(_name: &str) -> io::Result<std::os::unix::net::SocketAddr> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract Unix sockets need Linux"))
}

/// A pool's link: over the interchange's local socket, or over TCP through the transport.
pub enum PoolLink<S> {
    Local(LocalStream),
    Net(S),
}

impl<S: AsyncRead + Unpin> AsyncRead for PoolLink<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PoolLink::Local(s) => Pin::new(s).poll_read(cx, buf),
            PoolLink::Net(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PoolLink<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PoolLink::Local(s) => Pin::new(s).poll_write(cx, buf),
            PoolLink::Net(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PoolLink::Local(s) => Pin::new(s).poll_flush(cx),
            PoolLink::Net(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PoolLink::Local(s) => Pin::new(s).poll_shutdown(cx),
            PoolLink::Net(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn addresses_name_local_sockets_with_an_at_sign() {
        assert_eq!(name_of("@chervil-pools-1-2"), Some("chervil-pools-1-2"));
        assert_eq!(name_of("127.0.0.1"), None);
        assert_eq!(name_of("::1"), None);
    }

    /// Bytes go both ways over the abstract socket; a name nobody listens on is refused at
    /// once (the pool then falls back to TCP), and a second listener under a taken name is
    /// refused too (the interchange then goes without one).
    #[test]
    fn a_local_socket_carries_bytes_and_refuses_what_it_should() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let name = name_for(std::process::id(), 1);
            let listener = bind(&name).expect("bind");
            assert!(bind(&name).is_err(), "the name is taken");
            let mut ours = connect(&name).expect("connect");
            let (mut theirs, _) = listener.accept().await.expect("accept");
            ours.write_all(b"hello").await.expect("write");
            let mut got = [0u8; 5];
            theirs.read_exact(&mut got).await.expect("read");
            assert_eq!(&got, b"hello");
            let err = connect(&name_for(std::process::id(), 2)).err().expect("nobody listens there");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        });
    }

    /// A write larger than the socket holds waits for the peer (the path that registers
    /// for writability) and arrives whole and in order; the read side sees the end.
    #[test]
    fn a_write_that_fills_the_socket_waits_for_the_reader() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let name = name_for(std::process::id(), 3);
            let listener = bind(&name).expect("bind");
            let mut ours = connect(&name).expect("connect");
            let (theirs, _) = listener.accept().await.expect("accept");
            let mut theirs = LocalStream::accepted(theirs).expect("register");
            let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
            let expected = big.clone();
            let writer = tokio::spawn(async move {
                ours.write_all(&big).await.expect("write");
                ours.shutdown().await.expect("shutdown");
                ours
            });
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).await.expect("read");
            assert!(got == expected, "{} bytes arrived of {}", got.len(), expected.len());
            let ours = writer.await.expect("writer");
            assert!(ours.write_wait.is_none(), "the writability registration ends with the write");
        });
    }
}
