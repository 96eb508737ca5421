//! Rate limits: how many attempts of each kind, per client address and per account, in
//! which window. Counters live in the database (see `db::throttle`), so limits hold
//! across every server instance.

use std::net::IpAddr;

use crate::db::throttle as counters;
use crate::db::{Db, now};
use crate::error::ApiError;

/// One limit: at most `max` hits per `window` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Name used in bucket keys.
    pub name: &'static str,
    /// Hits allowed per window.
    pub max: i64,
    /// Window length in seconds.
    pub window: i64,
}

impl Limit {
    const fn new(name: &'static str, max: i64, window: i64) -> Self {
        Self { name, max, window }
    }
}

/// Login attempts from one address (by devices the account does not know).
pub const LOGIN_PER_IP: Limit = Limit::new("login-ip", 30, 60);
/// Login attempts on one account from devices it does not know (lockout is the
/// stronger guard; this caps bursts).
pub const LOGIN_PER_ACCOUNT: Limit = Limit::new("login-account", 10, 60);
/// Login attempts from one known device of an account: counted apart, so strangers'
/// attempts never use up the owner's.
pub const LOGIN_PER_DEVICE: Limit = Limit::new("login-device", 10, 60);
/// Single sign-on steps (start, return, exchange) from one address: a sign-in takes
/// two, and a team behind one address may all sign in at nine.
pub const SSO_PER_IP: Limit = Limit::new("sso-ip", 120, 60);
/// Registrations from one address.
pub const REGISTER_PER_IP: Limit = Limit::new("register-ip", 20, 3600);
/// "Someone tried to register" notices to one address (over the limit they are skipped
/// silently; the registration still answers 202).
pub const REGISTER_NOTICE_PER_EMAIL: Limit = Limit::new("register-notice", 3, 3600);
/// Verification emails to one address.
pub const RESEND_PER_EMAIL: Limit = Limit::new("resend-email", 3, 3600);
/// Verification email requests from one address.
pub const RESEND_PER_IP: Limit = Limit::new("resend-ip", 20, 3600);
/// Reset emails to one address.
pub const RESET_PER_EMAIL: Limit = Limit::new("reset-email", 3, 3600);
/// Reset requests from one address.
pub const RESET_PER_IP: Limit = Limit::new("reset-ip", 20, 3600);

/// Live password checks from one address: a person typing makes a few a second at
/// most (the browser waits for a pause); more is someone using the estimator.
pub const PASSWORD_CHECK_PER_IP: Limit = Limit::new("password-check-ip", 120, 60);

/// The key of a client address: IPv6 clients are grouped by /64, because one
/// subscriber usually holds a whole /64 and could otherwise rotate past any limit.
pub fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Counts a hit on `limit` for `key`; past the limit, answers 429 with the seconds until
/// the window ends.
pub async fn check(db: &Db, limit: Limit, key: &str) -> Result<(), ApiError> {
    let now = now();
    let bucket = format!("{}:{key}", limit.name);
    let (hits, window_start) = counters::hit(db.pool(), &bucket, now, limit.window).await?;
    if hits > limit.max {
        tracing::warn!(target: "security", event = "rate_limited", limit = limit.name, key, "rate limit hit");
        return Err(ApiError::RateLimited(window_start + limit.window - now));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_key_per_64_and_mapped_ipv4_is_plain() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        assert_eq!(ip_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
