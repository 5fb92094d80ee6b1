//! The HTTPS options of `serve`: a certificate chain and its key, as PEM files, both or neither.

use clap::Args;

use super::non_empty;
use crate::config::{ConfigError, TlsFiles};

/// HTTPS: both files, or neither for plain HTTP.
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Reloaded
    /// without a restart when the file changes.
    #[arg(long, env = "TLS_CERT_FILE")]
    pub tls_cert: Option<String>,
    /// The PEM private key of --tls-cert; reloaded with it.
    #[arg(long, env = "TLS_KEY_FILE", hide_env_values = true)]
    pub tls_key: Option<String>,
}

impl TlsArgs {
    /// The pair to serve HTTPS with; `None` for plain HTTP. One without the other is refused.
    pub fn files(self) -> Result<Option<TlsFiles>, ConfigError> {
        match (non_empty(self.tls_cert), non_empty(self.tls_key)) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles::new(cert, key))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::new(
                "--tls-cert (TLS_CERT_FILE) is set without --tls-key (TLS_KEY_FILE): give both, or neither for plain HTTP",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "--tls-key (TLS_KEY_FILE) is set without --tls-cert (TLS_CERT_FILE): give both, or neither for plain HTTP",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{self, Command};

    #[test]
    fn tls_takes_both_files_or_neither() {
        let serve = |args: &[&str]| {
            let all = [&["serve", "--webhook-secret", "s"], args].concat();
            let Command::Serve(args) = cli::parse(&all).command else {
                panic!("expected serve");
            };
            args.into_config()
        };
        let both = serve(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("valid");
        assert_eq!(both.tls, Some(TlsFiles::new("c.pem", "k.pem")));
        let empty_key = serve(&["--tls-cert", "c.pem", "--tls-key", ""]);
        assert!(
            empty_key
                .expect_err("refused")
                .to_string()
                .contains("--tls-key")
        );
        let no_cert = serve(&["--tls-key", "k.pem"]);
        assert!(
            no_cert
                .expect_err("refused")
                .to_string()
                .contains("--tls-cert")
        );
    }
}
