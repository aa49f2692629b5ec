//! Mutual TLS for the control and data planes (rustls): every process presents a certificate
//! signed by the cluster's authority and accepts only peers that do the same.
//!
//! The certificate must name `TlsSettings::server_name` (`sluice-internal` unless configured):
//! peers check that name, not host names, so one certificate can serve every process, as with
//! Flink's internal SSL. A TLS connection is relayed to a local socket pair by a small Tokio
//! runtime, so the threads above read and write plain bytes as they do over TCP.

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The name certificates carry when none is configured.
pub const DEFAULT_SERVER_NAME: &str = "sluice-internal";

/// How long the TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificates and keys of this process.
pub struct TlsSettings {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl TlsSettings {
    /// Loads this process's certificate chain and key and the authority it trusts (PEM files);
    /// peers must present certificates naming `server_name`.
    pub fn load(
        cert: &Path,
        key: &Path,
        authority: &Path,
        server_name: &str,
    ) -> Result<Self, String> {
        let read_certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, String> {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no certificate in it", path.display()));
            }
            Ok(certs)
        };
        let chain = read_certs(cert)?;
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let mut roots = RootCertStore::empty();
        for certificate in read_certs(authority)? {
            roots
                .add(certificate)
                .map_err(|e| format!("{}: {e}", authority.display()))?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|e| format!("{}: {e}", authority.display()))?;
        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|e| format!("'{server_name}' is not a server name: {e}"))?;
        Ok(TlsSettings {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
            server_name,
        })
    }

    /// Runs the server side of the handshake on `stream`; returns the plain end of its relay.
    pub fn accept(&self, stream: TcpStream) -> io::Result<UnixStream> {
        let acceptor = self.acceptor.clone();
        relay(stream, move |tcp| async move {
            acceptor
                .accept(tcp)
                .await
                .map(tokio_rustls::TlsStream::from)
        })
    }

    /// Runs the client side of the handshake on `stream`; returns the plain end of its relay.
    pub fn connect(&self, stream: TcpStream) -> io::Result<UnixStream> {
        let connector = self.connector.clone();
        let name = self.server_name.clone();
        relay(stream, move |tcp| async move {
            connector
                .connect(name, tcp)
                .await
                .map(tokio_rustls::TlsStream::from)
        })
    }
}

/// The runtime that runs every relay of this process.
fn runtime() -> io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tls-relay")
        .enable_io()
        .enable_time()
        .build()?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

/// Completes the TLS handshake with `handshake`, then copies bytes between the TLS stream and
/// a local socket pair until either side closes; returns the pair's other end.
fn relay<F, Fut>(stream: TcpStream, handshake: F) -> io::Result<UnixStream>
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = io::Result<tokio_rustls::TlsStream<tokio::net::TcpStream>>>
        + Send,
{
    let (ours, theirs) = UnixStream::pair()?;
    stream.set_nonblocking(true)?;
    theirs.set_nonblocking(true)?;
    let (done, outcome) = std::sync::mpsc::channel();
    let runtime = runtime()?;
    let _guard = runtime.enter();
    let tcp = tokio::net::TcpStream::from_std(stream)?;
    let local = tokio::net::UnixStream::from_std(theirs)?;
    runtime.spawn(async move {
        let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(tcp)).await;
        let mut tls = match handshake {
            Ok(Ok(tls)) => {
                let _ = done.send(Ok(()));
                tls
            }
            Ok(Err(error)) => {
                let _ = done.send(Err(error));
                return;
            }
            Err(_) => {
                let _ = done.send(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake timed out",
                )));
                return;
            }
        };
        let mut local = local;
        let _ = tokio::io::copy_bidirectional(&mut tls, &mut local).await;
    });
    match outcome.recv_timeout(HANDSHAKE_TIMEOUT + Duration::from_secs(1)) {
        Ok(Ok(())) => Ok(ours),
        Ok(Err(error)) => Err(invalid(format!("TLS handshake failed: {error}"))),
        Err(_) => Err(invalid("the TLS handshake did not finish".into())),
    }
}
