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
}

/// The socket itself (loopback, or `encrypted=False`).
pub struct Plain;

impl Transport for Plain {
    type Stream = TcpStream;
    fn establish(&self, tcp: TcpStream) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>> {
        Box::pin(async move { Ok(tcp) })
    }
}
