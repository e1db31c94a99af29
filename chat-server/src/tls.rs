//! HTTPS with rustls (ring provider; no OpenSSL): PEM files, or a self-signed certificate
//! generated on first run and kept next to the database.

use std::fs;
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// File name of the generated certificate (PEM).
pub const SELF_SIGNED_CERT_FILE: &str = "chat-cert.pem";
/// File name of the generated private key (PEM, mode 0600 on Unix).
pub const SELF_SIGNED_KEY_FILE: &str = "chat-key.pem";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0}: no PEM certificate found")]
    NoCertificate(PathBuf),
    /// The key file holds no private key.
    #[error("{0}: no PEM private key (PKCS#8, PKCS#1 or SEC1) found")]
    NoKey(PathBuf),
    /// rustls refused the certificate or key.
    #[error("certificate or key refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A loaded certificate, ready to serve.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate's DER, as colon-separated upper-case hex.
    pub(crate) fingerprint: String,
    /// Where the certificate is, for the banner.
    pub(crate) cert_path: PathBuf,
    /// Whether this run generated it.
    pub(crate) generated: bool,
}

/// Loads a certificate chain and key from PEM files.
pub(crate) fn from_files(cert: &Path, key: &Path) -> Result<Loaded, TlsError> {
    let certs = read_certs(cert)?;
    let key_der = read_key(key)?;
    let fingerprint = fingerprint(&certs[0]);
    Ok(Loaded { config: server_config(certs, key_der)?, fingerprint, cert_path: cert.to_owned(), generated: false })
}

/// Loads the self-signed certificate in `dir`, generating it (for `localhost`, `127.0.0.1`,
/// `::1` and `ips`) when missing.
pub(crate) fn self_signed(dir: &Path, ips: &[IpAddr]) -> Result<Loaded, TlsError> {
    let cert_path = dir.join(SELF_SIGNED_CERT_FILE);
    let key_path = dir.join(SELF_SIGNED_KEY_FILE);
    if cert_path.exists() && key_path.exists() {
        return from_files(&cert_path, &key_path);
    }
    let (cert_pem, key_pem) = generate(ips)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    write_private(&key_path, key_pem.as_bytes()).map_err(io(&key_path))?;
    fs::write(&cert_path, cert_pem.as_bytes()).map_err(io(&cert_path))?;
    let mut loaded = from_files(&cert_path, &key_path)?;
    loaded.generated = true;
    Ok(loaded)
}

/// A self-signed certificate (PEM) and its key (PEM) for localhost and `ips`.
pub(crate) fn generate(ips: &[IpAddr]) -> Result<(String, String), TlsError> {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
    let mut all: Vec<IpAddr> =
        vec![IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)];
    for ip in ips {
        if !all.contains(ip) {
            all.push(*ip);
        }
    }
    params.subject_alt_names.extend(all.into_iter().map(rcgen::SanType::IpAddress));
    params.distinguished_name.push(rcgen::DnType::CommonName, "chat-server self-signed");
    // Valid from yesterday for ten years: a LAN tool, not a public site.
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(86_400)).into();
    params.not_after = (now + std::time::Duration::from_secs(10 * 365 * 86_400)).into();
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file = fs::File::open(path).map_err(|source| TlsError::Io { path: path.to_owned(), source })?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Io { path: path.to_owned(), source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let file = fs::File::open(path).map_err(|source| TlsError::Io { path: path.to_owned(), source })?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .map_err(|source| TlsError::Io { path: path.to_owned(), source })?
        .ok_or_else(|| TlsError::NoKey(path.to_owned()))
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// SHA-256 of a certificate's DER as `AB:CD:…`.
pub(crate) fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = self_signed(dir.path(), &["192.0.2.7".parse().unwrap()]).unwrap();
        assert!(first.generated);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let second = self_signed(dir.path(), &[]).unwrap();
        assert!(!second.generated);
        assert_eq!(first.fingerprint, second.fingerprint);
    }

    #[test]
    fn missing_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = from_files(&dir.path().join("nope.pem"), &dir.path().join("nope.key")).err().unwrap();
        assert!(matches!(err, TlsError::Io { .. }));
    }
}
