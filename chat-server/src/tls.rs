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
/// File listing the IP addresses the generated certificate names, one per line (so a start on
/// a new network can tell that the certificate no longer covers this machine's addresses).
pub const SELF_SIGNED_ADDRESSES_FILE: &str = "chat-cert.addresses";

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
/// `::1` and `ips`) when missing, or again when it does not name one of `ips` (the machine
/// joined another network): the new one names the old addresses and the new ones.
pub(crate) fn self_signed(dir: &Path, ips: &[IpAddr]) -> Result<Loaded, TlsError> {
    let cert_path = dir.join(SELF_SIGNED_CERT_FILE);
    let key_path = dir.join(SELF_SIGNED_KEY_FILE);
    let addresses_path = dir.join(SELF_SIGNED_ADDRESSES_FILE);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Io { path, source }
    };
    let mut named: Vec<IpAddr> = Vec::new();
    if cert_path.exists() && key_path.exists() {
        let listed = match fs::read_to_string(&addresses_path) {
            Ok(text) => Some(text.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<IpAddr>>()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&addresses_path)(e)),
        };
        let covered = match &listed {
            Some(listed) => ips.iter().all(|ip| ip.is_loopback() || listed.contains(ip)),
            // From before the list existed: what it names is unknown, so it is kept only while
            // there is no LAN address to check (it always names loopback).
            None => ips.is_empty(),
        };
        if covered {
            return from_files(&cert_path, &key_path);
        }
        named = listed.unwrap_or_default();
        tracing::info!(
            ?ips,
            ?named,
            "the certificate does not name every address of this machine; generating a new one"
        );
    }
    for ip in ips {
        if !named.contains(ip) {
            named.push(*ip);
        }
    }
    let (cert_pem, key_pem) = generate(&named)?;
    fs::create_dir_all(dir).map_err(io(dir))?;
    // New files beside the old ones, then renamed over them: a reader never sees half a file.
    let key_tmp = dir.join(format!("{SELF_SIGNED_KEY_FILE}.new"));
    let cert_tmp = dir.join(format!("{SELF_SIGNED_CERT_FILE}.new"));
    let _ = fs::remove_file(&key_tmp); // left over from an interrupted start
    write_private(&key_tmp, key_pem.as_bytes()).map_err(io(&key_tmp))?;
    fs::write(&cert_tmp, cert_pem.as_bytes()).map_err(io(&cert_tmp))?;
    fs::rename(&key_tmp, &key_path).map_err(io(&key_path))?;
    fs::rename(&cert_tmp, &cert_path).map_err(io(&cert_path))?;
    let listing: String = named.iter().map(|ip| format!("{ip}\n")).collect();
    fs::write(&addresses_path, listing).map_err(io(&addresses_path))?;
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
    fn a_new_address_regenerates_naming_old_and_new() {
        let dir = tempfile::tempdir().unwrap();
        let home: IpAddr = "192.0.2.7".parse().unwrap();
        let cafe: IpAddr = "198.51.100.4".parse().unwrap();
        let first = self_signed(dir.path(), &[home]).unwrap();
        let moved = self_signed(dir.path(), &[cafe]).unwrap();
        assert!(moved.generated, "an address the certificate does not name");
        assert_ne!(first.fingerprint, moved.fingerprint);
        let listed = fs::read_to_string(dir.path().join(SELF_SIGNED_ADDRESSES_FILE)).unwrap();
        assert_eq!(listed, "192.0.2.7\n198.51.100.4\n");
        let back_home = self_signed(dir.path(), &[home]).unwrap();
        assert!(!back_home.generated, "both networks are named now");
        assert_eq!(back_home.fingerprint, moved.fingerprint);
        let loopback_only = self_signed(dir.path(), &[]).unwrap();
        assert!(!loopback_only.generated);
    }

    #[test]
    fn a_certificate_without_an_address_list_is_kept_until_a_lan_address_needs_checking() {
        let dir = tempfile::tempdir().unwrap();
        let first = self_signed(dir.path(), &[]).unwrap();
        fs::remove_file(dir.path().join(SELF_SIGNED_ADDRESSES_FILE)).unwrap();
        let again = self_signed(dir.path(), &[]).unwrap();
        assert!(!again.generated);
        assert_eq!(again.fingerprint, first.fingerprint);
        let lan = self_signed(dir.path(), &["192.0.2.7".parse().unwrap()]).unwrap();
        assert!(lan.generated, "unknown coverage and a LAN address: generate one that names it");
    }

    #[test]
    fn missing_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = from_files(&dir.path().join("nope.pem"), &dir.path().join("nope.key")).err().unwrap();
        assert!(matches!(err, TlsError::Io { .. }));
    }
}
