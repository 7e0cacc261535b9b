//! How a connected TCP socket becomes the link the protocol runs on. The step is the
//! same on both ends, so it is one trait: nothing on loopback ([`Plain`]), where every
//! process able to listen in could also read the run's files; elsewhere a TLS handshake
//! pinned to the run's certificate (the interchange's [`TlsAcceptor`] and the pool's
//! [`PinnedTlsConnector`]).
//!
//! [`TlsAcceptor`]: crate::tls::TlsAcceptor
//! [`PinnedTlsConnector`]: crate::tls::PinnedTlsConnector

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Makes the link over a connected socket: the interchange's side of each accepted
/// connection, or the pool's side of its connection to the interchange.
pub trait Transport: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The link over `tcp`, once its handshake (if any) is done.
    fn establish(&self, tcp: TcpStream) -> Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send>>;

    /// The link's socket, for threads outside the runtime to write frames on directly
    /// (duplicated once the peer has registered); `None` where bytes must pass through
    /// the link (TLS).
    fn raw_socket(_stream: &Self::Stream) -> Option<std::os::fd::RawFd> {
        None
    }
}

/// The socket itself (loopback, or `encrypted=False`).
pub struct Plain;

impl Transport for Plain {
    type Stream = TcpStream;
    fn establish(&self, tcp: TcpStream) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>> {
        Box::pin(async move { Ok(tcp) })
    }

    fn raw_socket(stream: &TcpStream) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        Some(stream.as_raw_fd())
    }
}

/// A second handle on a link's socket (from [`Transport::raw_socket`], or the local
/// socket's own), made once the peer has registered, so a stranger's connection costs one
/// descriptor, not two. The copy shares the runtime's non-blocking mode: a write from
/// another thread takes what fits and never waits.
///
/// # Safety
/// `fd` must be the socket of a stream the caller holds open for the duration of the call.
pub(crate) unsafe fn direct_writer(fd: std::os::fd::RawFd) -> Option<DirectSocket> {
    // SAFETY: the caller holds the stream whose socket this is; it is only borrowed
    // long enough to duplicate it.
    let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    socket.try_clone_to_owned().ok().map(DirectSocket)
}

/// A link's socket, TCP or Unix alike, written from outside the runtime.
pub(crate) struct DirectSocket(std::os::fd::OwnedFd);

impl DirectSocket {
    /// Writes what the socket takes now (it is non-blocking); a peer gone is an error,
    /// never a SIGPIPE for the process that hosts the interchange.
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open while `self` lives; `buf` is valid for its length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}
