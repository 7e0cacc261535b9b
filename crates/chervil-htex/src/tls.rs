//! TLS between the interchange and pools, for any link that leaves the machine.
//!
//! No certificate authority is involved: each run makes a self-signed certificate
//! (`TlsIdentity::generate`) and gives its SHA-256 fingerprint to the pools it starts,
//! in the launch command, next to the run's secret. A pool accepts exactly that
//! certificate (`PinnedTlsConnector`), so it cannot be handed to an impostor that
//! took the port, and the secret it then sends is never in clear text on the wire.
//! TLS 1.3 only; ring as the crypto provider (no C++ or cmake in the build).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;

use crate::link::Transport;

/// The name in the certificate; pools ask for it, but trust comes from the pin.
const SERVER_NAME: &str = "chervil-interchange";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the run's TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot set up TLS: {0}")]
    Config(#[from] rustls::Error),
    #[error("the certificate fingerprint {given:?} is not 64 hexadecimal digits (a SHA-256)")]
    BadFingerprint { given: String },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate's DER bytes.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
    out
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new run secret (the token every pool must present), from the system's CSPRNG;
/// `None` when the system gives no random bytes.
pub fn new_token() -> Option<[u8; 32]> {
    use ring::rand::SecureRandom;
    let mut token = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut token).ok()?;
    Some(token)
}

/// The bytes `to_hex` wrote; `None` for anything else (odd length, a non-hex digit).
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

pub fn parse_fingerprint(hex: &str) -> Result<[u8; 32], TlsError> {
    from_hex(hex)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| TlsError::BadFingerprint { given: hex.to_string() })
}

/// The interchange's certificate and key for one run.
pub struct TlsIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl TlsIdentity {
    pub fn generate() -> Result<TlsIdentity, TlsError> {
        let made = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()])?;
        Ok(TlsIdentity { cert: made.cert.der().clone(), key: PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()) })
    }

    /// What pools must be given to trust this interchange.
    pub fn fingerprint(&self) -> [u8; 32] {
        fingerprint(self.cert.as_ref())
    }

    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], PrivateKeyDer::Pkcs8(self.key.clone_key()))?;
        Ok(TlsAcceptor(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}

/// The interchange's side: a TLS handshake on each accepted connection.
pub struct TlsAcceptor(tokio_rustls::TlsAcceptor);

impl Transport for TlsAcceptor {
    type Stream = tokio_rustls::server::TlsStream<TcpStream>;
    fn establish(&self, tcp: TcpStream) -> Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send>> {
        let acceptor = self.0.clone();
        Box::pin(async move { acceptor.accept(tcp).await })
    }
}

/// The pool's side: TLS to an interchange whose certificate has the given fingerprint.
pub struct PinnedTlsConnector {
    connector: tokio_rustls::TlsConnector,
}

impl PinnedTlsConnector {
    pub fn new(fingerprint: [u8; 32]) -> Result<PinnedTlsConnector, TlsError> {
        let provider = provider();
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { fingerprint, provider }))
            .with_no_client_auth();
        Ok(PinnedTlsConnector { connector: tokio_rustls::TlsConnector::from(Arc::new(config)) })
    }
}

impl Transport for PinnedTlsConnector {
    type Stream = tokio_rustls::client::TlsStream<TcpStream>;
    fn establish(&self, tcp: TcpStream) -> Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send>> {
        let connector = self.connector.clone();
        Box::pin(async move {
            let name = ServerName::try_from(SERVER_NAME).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            connector.connect(name, tcp).await
        })
    }
}

/// Trusts one certificate, by its SHA-256; signatures are still checked, so the
/// peer must hold that certificate's key.
#[derive(Debug)]
struct Pinned {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity.as_ref()) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the interchange's certificate is not the one this pool was started with (fingerprint mismatch): \
                 another process may hold the port, or the pool belongs to an earlier run"
                    .into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_round_trip_through_hex() {
        let id = TlsIdentity::generate().expect("certificate");
        let fp = id.fingerprint();
        assert_eq!(parse_fingerprint(&to_hex(&fp)).expect("parses"), fp);
        assert!(parse_fingerprint("abc").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    /// A real handshake on a loopback socket: the pinned certificate gets through and
    /// carries bytes; any other certificate is refused by the pool's side.
    #[test]
    fn pool_accepts_only_the_pinned_certificate() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let id = TlsIdentity::generate().expect("certificate");
            let acceptor = Arc::new(id.acceptor().expect("acceptor"));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let server = tokio::spawn(async move {
                let mut handshakes = Vec::new();
                for _ in 0..2 {
                    let (tcp, _) = listener.accept().await.expect("accept");
                    handshakes.push(match acceptor.establish(tcp).await {
                        Ok(mut tls) => {
                            let mut buf = [0u8; 5];
                            tls.read_exact(&mut buf).await.expect("read");
                            tls.write_all(&buf).await.expect("echo");
                            tls.flush().await.expect("flush");
                            true
                        }
                        Err(_) => false,
                    });
                }
                handshakes
            });
            let good = PinnedTlsConnector::new(id.fingerprint()).expect("connector");
            let mut tls = good.establish(TcpStream::connect(addr).await.expect("connect")).await.expect("handshake");
            tls.write_all(b"hello").await.expect("write");
            tls.flush().await.expect("flush");
            let mut buf = [0u8; 5];
            tls.read_exact(&mut buf).await.expect("read echo");
            assert_eq!(&buf, b"hello");
            let wrong = PinnedTlsConnector::new([7u8; 32]).expect("connector");
            let err = wrong.establish(TcpStream::connect(addr).await.expect("connect")).await.expect_err("refused");
            assert!(err.to_string().contains("fingerprint mismatch"), "{err}");
            assert_eq!(server.await.expect("server task"), vec![true, false]);
        });
    }
}
