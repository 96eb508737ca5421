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

/// Longest `User-Agent` kept with a session: enough to tell browsers and apps apart.
const USER_AGENT_CHARS: usize = 160;

/// What a sign-in knows about the client: its address, how it names itself, and the
/// device token it presented (a browser's device cookie or the desktop's stored one).
#[derive(Debug, Clone)]
pub struct Client {
    /// See [`client_ip`].
    pub ip: IpAddr,
    /// `User-Agent`, printable characters only, shortened.
    pub user_agent: Option<String>,
    /// The device token presented, unverified.
    pub device_token: Option<String>,
}

impl Client {
    /// The client of `req`, with the device token it presented (if any).
    pub fn of(req: &Request, config: &Config, device_token: Option<String>) -> Self {
        let user_agent = req
            .headers()
            .get(salvo::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|ua| !ua.trim().is_empty());
        Self {
            ip: client_ip(req, config),
            user_agent,
            device_token: device_token.filter(|t| !t.is_empty() && t.len() <= 200),
        }
    }
}

/// A coarse address to show beside a session — enough to recognise "home" or "work",
/// not to locate anyone: an IPv4 /24 or an IPv6 /48.
pub fn address_hint(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.x")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_hints_are_coarse() {
        assert_eq!(address_hint("203.0.113.77".parse().unwrap()), "203.0.113.x");
        assert_eq!(
            address_hint("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1::/48"
        );
        assert_eq!(
            address_hint("::ffff:192.0.2.9".parse().unwrap()),
            "192.0.2.x"
        );
    }
}
