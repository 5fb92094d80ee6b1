//! Reading a certificate chain and its private key from PEM files into what rustls serves, and
//! every way that can fail, each named by its option and file: a file missing or unreadable, not
//! PEM, a key or certificate rustls cannot use, a key that is not the certificate's.

use std::io;
use std::path::{Path, PathBuf};

use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, InconsistentKeys};

use crate::config::TlsFiles;

/// One of the two files, named in messages by its flag and variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// `--tls-cert`, `TLS_CERT_FILE`.
    Cert,
    /// `--tls-key`, `TLS_KEY_FILE`.
    Key,
}

impl TlsFile {
    fn option(self) -> &'static str {
        match self {
            Self::Cert => "--tls-cert (TLS_CERT_FILE)",
            Self::Key => "--tls-key (TLS_KEY_FILE)",
        }
    }
}

/// Why a certificate and key pair cannot be served. Each message is one line naming the option
/// and the file; the causes are written into it, since it ends up as a configuration error's text.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file is missing, or not a readable file.
    #[error("cannot read {} {}: {cause}", .file.option(), .path.display())]
    Unreadable {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
        /// What the system said.
        cause: io::Error,
    },
    /// The file holds no PEM block of the kind expected, or a broken one.
    #[error("{} {} is not {}: {detail}", .file.option(), .path.display(), .file.expected())]
    NotPem {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The PEM decodes, but rustls cannot use what it holds.
    #[error("{} {} cannot be used: {cause}", .file.option(), .path.display())]
    Unusable {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
        /// What rustls said.
        cause: rustls::Error,
    },
    /// The key is not the one the certificate was issued for.
    #[error(
        "the private key in {} {} does not match the certificate in {} {}",
        TlsFile::Key.option(), .key.display(), TlsFile::Cert.option(), .cert.display()
    )]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
}

impl TlsFile {
    fn expected(self) -> &'static str {
        match self {
            Self::Cert => "a PEM certificate chain",
            Self::Key => "a PEM private key",
        }
    }
}

/// Reads and checks the pair named by `files`, with the key loaded by `provider`.
pub fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|cause| TlsError::Unusable {
            file: TlsFile::Key,
            path: files.key.clone(),
            cause,
        })?;
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        // `Unknown`: the key cannot tell its public half; ring's keys always can.
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::Mismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        }),
        // The leaf did not parse as an X.509 certificate.
        Err(cause) => Err(TlsError::Unusable {
            file: TlsFile::Cert,
            path: files.cert.clone(),
            cause,
        }),
    }
}

fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Unreadable {
        file,
        path: path.to_owned(),
        cause,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(TlsFile::Cert, path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| not_pem(TlsFile::Cert, path, &err))?;
    if chain.is_empty() {
        return Err(not_pem(TlsFile::Cert, path, &pem::Error::NoItemsFound));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(TlsFile::Key, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| not_pem(TlsFile::Key, path, &err))
}

fn not_pem(file: TlsFile, path: &Path, err: &pem::Error) -> TlsError {
    let detail = match err {
        pem::Error::NoItemsFound => match file {
            TlsFile::Cert => "it holds no CERTIFICATE block".to_owned(),
            TlsFile::Key => "it holds no PRIVATE KEY block".to_owned(),
        },
        // pem's own messages print these byte strings as lists of numbers.
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a {} block has no END line (the file is cut short?)",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => {
            format!("malformed BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        other => other.to_string(),
    };
    TlsError::NotPem {
        file,
        path: path.to_owned(),
        detail,
    }
}
