//! Building the application separately from running it, so the listener is bound (and
//! its real port known) before the first request; tests bind port 0 and ask.

use std::net::SocketAddr;

use salvo::conn::tcp::TcpAcceptor;
use salvo::conn::{Acceptor, TcpListener};
use salvo::prelude::*;
use salvo::server::ServerHandle;

use crate::config::Config;
use crate::routes;

/// A bound, not yet running, server.
pub struct Application {
    server: Server<TcpAcceptor>,
    local_addr: SocketAddr,
}

/// Why the application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from `BIND_ADDR`.
        addr: SocketAddr,
        /// The operating system's reason.
        source: salvo::Error,
    },
}

impl Application {
    /// Binds the listener described by `config`.
    pub async fn build(config: &Config) -> Result<Self, BuildError> {
        let acceptor = TcpListener::new(config.bind_addr)
            .try_bind()
            .await
            .map_err(|source| BuildError::Bind {
                addr: config.bind_addr,
                source,
            })?;
        let local_addr = acceptor
            .holdings()
            .first()
            .and_then(|h| h.local_addr.clone().into_std())
            .unwrap_or(config.bind_addr);
        Ok(Self {
            server: Server::new(acceptor),
            local_addr,
        })
    }

    /// The address actually bound (the real port when `BIND_ADDR` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run(self) {
        tracing::info!(addr = %self.local_addr, "listening");
        self.server.serve(routes::router()).await;
    }
}
