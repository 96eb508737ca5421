//! The client's address, for rate limits and the security log.
//!
//! Behind a TLS proxy every connection comes from the proxy, so the address must come
//! from `X-Forwarded-For` — but only when the peer is a proxy in `TRUSTED_PROXIES`;
//! anyone else could write that header to dodge limits or frame someone.

use std::net::{IpAddr, Ipv4Addr};

use salvo::prelude::*;

use crate::config::Config;

/// The address to attribute this request to.
pub fn client_ip(req: &Request, config: &Config) -> IpAddr {
    let peer = req
        .remote_addr()
        .clone()
        .into_std()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
    if !(config.behind_tls_proxy && config.trusted_proxies.contains(&peer)) {
        return peer;
    }
    // The right-most address that is not one of our proxies is the client.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical()))
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !config.trusted_proxies.contains(ip))
        .unwrap_or(peer)
}
