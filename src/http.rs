//! The HTTP client shared by the providers.
//!
//! rustls with the ring provider is the only TLS stack. Proxies come from HTTPS_PROXY,
//! HTTP_PROXY, ALL_PROXY and NO_PROXY (reqwest's environment handling).

use std::time::Duration;

/// Install rustls' crypto provider for this process (idempotent).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn client() -> Result<reqwest::Client, crate::error::Error> {
    install_crypto();
    reqwest::Client::builder()
        .user_agent(concat!("openfeedback/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| {
            crate::error::Error::Internal(format!(
                "cannot build the HTTP client: {}",
                e.without_url()
            ))
        })
}
