//! Resolving and binding the listen address, with the rule that an open query API (no
//! `API_TOKEN`) is only ever served on loopback.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::CommandError;
use crate::config::Config;

/// Resolves `config.listen`, refuses an open query API on a non-loopback address, and binds.
pub async fn bind(config: &Config) -> Result<TcpListener, CommandError> {
    let addrs = resolve(&config.listen).await?;
    if config.api_token.is_none() {
        if let Some(exposed) = addrs.iter().find(|addr| !addr.ip().is_loopback()) {
            return Err(CommandError::config(format!(
                "refusing to serve the query API without a token on {exposed}, which is not loopback: \
                 set API_TOKEN (or --api-token), or listen on 127.0.0.1"
            )));
        }
        tracing::warn!("no API_TOKEN set: the query API is open to anyone on this machine");
    }
    TcpListener::bind(addrs.as_slice()).await.map_err(|err| {
        CommandError::failed(
            format!("cannot listen on {} (LISTEN_ADDR)", config.listen),
            err,
        )
    })
}

async fn resolve(listen: &str) -> Result<Vec<SocketAddr>, CommandError> {
    let invalid = || {
        CommandError::config(format!(
            "LISTEN_ADDR={listen} is not a valid address: expected host:port, e.g. 127.0.0.1:3000"
        ))
    };
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|_| invalid())?
        .collect();
    if addrs.is_empty() {
        Err(invalid())
    } else {
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(listen: &str, token: Option<&str>) -> Config {
        Config {
            database_url: "sqlite::memory:".into(),
            database_read_url: None,
            listen: listen.into(),
            webhook_secret: Secret::new("s".into()),
            webhook_secret_previous: None,
            api_token: token.map(|t| Secret::new(t.into())),
            max_body_bytes: 1,
            sqlite_synchronous: crate::store::Durability::Full,
            retention: None,
            notify: crate::notify::NotifySettings::default(),
            limits: crate::limits::Limits::default(),
            clock: crate::clock::Clock::system(),
            tls: None,
            search_index: Default::default(),
        }
    }

    #[tokio::test]
    async fn open_api_on_all_interfaces_is_refused() {
        let err = bind(&config("0.0.0.0:0", None)).await.expect_err("refused");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("API_TOKEN"));
    }

    #[tokio::test]
    async fn loopback_without_token_and_any_address_with_token_bind() {
        assert!(bind(&config("127.0.0.1:0", None)).await.is_ok());
        assert!(
            bind(&config("[::1]:0", None)).await.is_ok()
                || std::net::TcpListener::bind("[::1]:0").is_err()
        );
        assert!(bind(&config("0.0.0.0:0", Some("t"))).await.is_ok());
    }

    #[tokio::test]
    async fn garbage_address_is_a_configuration_error() {
        for listen in ["nonsense", "127.0.0.1", "127.0.0.1:99999", ""] {
            let err = bind(&config(listen, Some("t"))).await.expect_err(listen);
            assert_eq!(err.exit_code(), 2, "{listen}");
        }
    }
}
