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

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};

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
pub fn connect(name: &str) -> io::Result<UnixStream> {
    let stream = std::os::unix::net::UnixStream::connect_addr(&abstract_address(name)?)?;
    stream.set_nonblocking(true)?;
    UnixStream::from_std(stream)
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
    Local(UnixStream),
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
            let err = connect(&name_for(std::process::id(), 2)).expect_err("nobody listens there");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        });
    }
}
