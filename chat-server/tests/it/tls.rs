use std::sync::Arc;

use chat_server::{Server, ServerConfig, Tls};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test]
async fn self_signed_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::ephemeral();
    config.tls = Tls::SelfSigned { dir: dir.path().to_owned() };
    let server = Server::start(config.clone()).await.expect("starts with a generated certificate");
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let (cert_path, generated) = server.tls_certificate().unwrap();
    assert!(generated);
    let cert_path = cert_path.to_owned();
    let fingerprint = server.tls_fingerprint().unwrap().to_owned();

    // The printed fingerprint is the SHA-256 of the certificate.
    let cert = CertificateDer::from_pem_file(&cert_path).expect("PEM certificate");
    let digest: Vec<String> = Sha256::digest(cert.as_ref()).iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(fingerprint, digest.join(":"));

    // A client that trusts exactly this certificate, for "localhost" and for 127.0.0.1.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let addr = server.local_addr();
    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = connector.connect(ServerName::try_from(name).unwrap().to_owned(), tcp).await.expect("handshake");
        let health = send_over(TokioIo::new(tls), addr, "GET", "/healthz", &[], None).await;
        assert_eq!(health.status, 200, "via {name}");
        assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
        // The request's Host is 127.0.0.1 (browsers ignore HSTS for addresses; a name gets it).
        assert_eq!(health.header("strict-transport-security"), Some("max-age=31536000"), "via {name}");
    }
    // Not for localhost: HSTS there would pin every local development server to HTTPS.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let host = format!("localhost:{}", addr.port());
    let health = send_over(TokioIo::new(tls), addr, "GET", "/healthz", &[("host", &host)], None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.header("strict-transport-security"), None);
    // Over TLS the session cookie is Secure.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let body = serde_json::to_vec(&serde_json::json!({"username": "alice", "password": "password-alice"})).unwrap();
    let r = send_over(
        TokioIo::new(tls),
        addr,
        "POST",
        "/api/register",
        &[("content-type", "application/json")],
        Some(body),
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));

    // Plain HTTP to the TLS port gets nowhere.
    let plain = TcpStream::connect(addr).await.unwrap();
    let attempt = tokio::spawn(async move {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, http_body_util::Empty<bytes::Bytes>>(TokioIo::new(plain))
                .await?;
        tokio::spawn(conn);
        sender.send_request(hyper::Request::get("/healthz").body(http_body_util::Empty::new()).unwrap()).await
    });
    assert!(attempt.await.unwrap().is_err());
    server.shutdown().await;

    // A restart reuses the certificate.
    let again = Server::start(config).await.unwrap();
    assert!(!again.tls_certificate().unwrap().1);
    assert_eq!(again.tls_fingerprint(), Some(fingerprint.as_str()));
    again.shutdown().await;
}

#[tokio::test]
async fn missing_certificate_files_fail_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::ephemeral();
    config.tls = Tls::Files { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") };
    let err = Server::start(config).await.expect_err("refuses to start");
    assert!(err.to_string().contains("cert.pem"), "{err}");
}
