//! TLS termination for `keymanager serve` (`[server] tls_cert` / `tls_key`, PEM files), and TLS client
//! certificates (`[server] tls_client_certificates`, RFC 8705).
//!
//! Handshakes run in their own tasks with a time limit, so a slow or silent client never holds up the accept
//! loop; finished connections are handed to axum through a channel.
//!
//! **Client certificates** are asked for, never required (a browser or a client without one connects as before).
//! The handshake proves the client holds the private key of the certificate it sent, whatever issued it; whether
//! its chain leads to a configured authority (`[server] tls_client_ca`) is decided once per connection and carried
//! with it ([`ClientCertificate::chain_trusted`]). Every request of the connection then carries the
//! [`ClientCertificate`] in its extensions, for the resident's client authentication and the gateway layer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keymanager::validation::mtls::ClientCertificate;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::crypto::WebPkiSupportedAlgorithms;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::Failure;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `serve` terminates TLS with: the server configuration, and the authorities client certificates are checked
/// against (`tls_client_auth`).
#[derive(Clone)]
pub(crate) struct Tls {
    config: Arc<ServerConfig>,
    client_ca: Option<Arc<dyn ClientCertVerifier>>,
}

/// Load `[server]`'s TLS settings: the certificate chain and its key, and, with `tls_client_certificates`, the
/// optional client certificates and the authorities of `tls_client_ca`.
pub(crate) fn load(server: &keymanager::config::ServerConfig) -> Result<Option<Tls>, Failure> {
    let (cert, key) = match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) => return Ok(None),
        _ => {
            return Err(Failure::Usage(
                "[server] tls_cert and tls_key go together: set both or neither".into(),
            ))
        }
    };
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let client_ca = match &server.tls_client_ca {
        Some(path) => Some(client_ca(path, provider.clone())?),
        None => None,
    };
    let verifier = server.tls_client_certificates.then(|| {
        Arc::new(OptionalClientCertificates {
            algorithms: provider.signature_verification_algorithms,
        }) as Arc<dyn ClientCertVerifier>
    });
    Ok(Some(Tls {
        config: server_config(cert, key, provider, verifier)?,
        client_ca,
    }))
}

/// The verifier of `tls_client_ca`'s authorities, for client authentication (not for the handshake).
fn client_ca(
    path: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, Failure> {
    let bad = |e: String| Failure::Usage(format!("[server] tls_client_ca: {}: {e}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| bad(e.to_string()))
}

/// Asks for a client certificate and accepts any the client proves it holds: the handshake's signature is
/// checked, the chain is not (that is [`Tls::client_ca`]'s, after the handshake, and only `tls_client_auth` needs
/// it). A client without a certificate connects as without client certificates.
#[derive(Debug)]
struct OptionalClientCertificates {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for OptionalClientCertificates {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl Tls {
    /// The client certificate a finished handshake proved, with whether its chain leads to `tls_client_ca`.
    fn client_certificate(&self, conn: &rustls::ServerConnection) -> Option<ClientCertificate> {
        let chain = conn.peer_certificates()?;
        let (leaf, intermediates) = chain.split_first()?;
        let trusted = self
            .client_ca
            .as_ref()
            .is_some_and(|ca| ca.verify_client_cert(leaf, intermediates, UnixTime::now()).is_ok());
        Some(ClientCertificate::from_der(leaf.as_ref()).with_trusted_chain(trusted))
    }
}

/// A connection's peer: its address, and the client certificate it proved, if any.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub address: SocketAddr,
    pub certificate: Option<ClientCertificate>,
}

impl From<SocketAddr> for Peer {
    fn from(address: SocketAddr) -> Peer {
        Peer {
            address,
            certificate: None,
        }
    }
}

/// Load a certificate chain and its private key into a server configuration (HTTP/1.1 over TLS 1.2 and 1.3).
fn server_config(
    cert: &Path,
    key: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
    client_certificates: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, Failure> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| Failure::Usage(format!("[server] tls_cert: cannot read {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(Failure::Usage(format!(
            "[server] tls_cert: {} holds no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        Failure::Usage(format!(
            "[server] tls_key: cannot read a private key from {}: {e}",
            key.display()
        ))
    })?;
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Usage(format!("TLS: {e}")))?;
    let builder = match client_certificates {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| Failure::Usage(format!("[server] tls_cert / tls_key do not make a usable pair: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener yielding connections whose TLS handshake has completed.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, Peer)>,
    local: SocketAddr,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, tls: Tls) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(256);
        let acceptor = TlsAcceptor::from(tls.config.clone());
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx, tls) = (acceptor.clone(), tx.clone(), tls.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let certificate = tls.client_certificate(stream.get_ref().1);
                            let peer = Peer {
                                address: peer,
                                certificate,
                            };
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task never ends while the listener lives; if it did, wait forever rather than spin.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer::from(self.local))
    }
}
