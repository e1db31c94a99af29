//! Which `Host` headers the server answers (the DNS rebinding defence): `localhost` and
//! `*.localhost`, this machine's IP addresses, and the names given with `--host`. A page on
//! `evil.example` whose name an attacker re-points at this machine sends `Host: evil.example`,
//! which is refused before any handler (or the own-origin check) sees it.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::http::uri::Authority;

/// How often an unknown IP literal may trigger a fresh look at the interfaces (an address
/// can appear after start-up, for example when the laptop joins another network).
const REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// What a `Host` header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostKind {
    /// `localhost` or a name under it (browsers resolve these to loopback themselves).
    Localhost,
    /// An address of this machine.
    Address,
    /// A name configured with `--host`.
    Configured,
}

/// The allowed hosts.
#[derive(Debug)]
pub(crate) struct Hosts {
    names: Vec<String>,
    addresses: Mutex<Addresses>,
}

#[derive(Debug)]
struct Addresses {
    ips: Vec<IpAddr>,
    refreshed: Instant,
}

impl Hosts {
    /// `names` from `--host` (a name, `name:port`, or an IP address); `bound` the listening
    /// address; `lan` this machine's addresses at start-up.
    pub(crate) fn new(names: &[String], bound: IpAddr, lan: &[IpAddr]) -> Hosts {
        let names = names
            .iter()
            .filter_map(|n| host_part(n.trim()))
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        let mut ips = lan.to_vec();
        if !bound.is_unspecified() {
            ips.push(bound);
        }
        Hosts { names, addresses: Mutex::new(Addresses { ips, refreshed: Instant::now() }) }
    }

    /// What `host` (a `Host` header value) is, or `None` when this server does not answer to it.
    pub(crate) fn check(&self, host: &str) -> Option<HostKind> {
        let name = host_part(host.trim())?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return Some(HostKind::Localhost);
        }
        if self.names.contains(&name) {
            return Some(HostKind::Configured);
        }
        let ip = IpAddr::from_str(name.trim_start_matches('[').trim_end_matches(']')).ok()?.to_canonical();
        if ip.is_loopback() || self.is_own(ip) { Some(HostKind::Address) } else { None }
    }

    fn is_own(&self, ip: IpAddr) -> bool {
        let mut addresses = self.addresses.lock().unwrap_or_else(PoisonError::into_inner);
        if addresses.ips.contains(&ip) {
            return true;
        }
        if addresses.refreshed.elapsed() >= REFRESH_INTERVAL {
            addresses.refreshed = Instant::now();
            for fresh in crate::net::lan_addresses() {
                if !addresses.ips.contains(&fresh) {
                    addresses.ips.push(fresh);
                }
            }
            return addresses.ips.contains(&ip);
        }
        false
    }
}

/// The host of a `host[:port]` authority (IPv6 in brackets), without the port.
fn host_part(authority: &str) -> Option<String> {
    let parsed = Authority::from_str(authority).ok()?;
    // Userinfo has no place in a Host header.
    (!parsed.as_str().contains('@')).then(|| parsed.host().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Hosts {
        Hosts::new(
            &["Chat.Example".into(), "10.9.8.7".into()],
            "0.0.0.0".parse().unwrap(),
            &["192.168.1.20".parse().unwrap(), "fd00::5".parse().unwrap()],
        )
    }

    #[test]
    fn own_names_and_addresses_are_allowed() {
        let h = hosts();
        assert_eq!(h.check("localhost:7812"), Some(HostKind::Localhost));
        assert_eq!(h.check("LOCALHOST"), Some(HostKind::Localhost));
        assert_eq!(h.check("app.localhost:80"), Some(HostKind::Localhost));
        assert_eq!(h.check("127.0.0.1:7812"), Some(HostKind::Address));
        assert_eq!(h.check("[::1]:7812"), Some(HostKind::Address));
        assert_eq!(h.check("192.168.1.20:7812"), Some(HostKind::Address));
        assert_eq!(h.check("[fd00::5]"), Some(HostKind::Address));
        assert_eq!(h.check("chat.example:443"), Some(HostKind::Configured));
        assert_eq!(h.check("chat.example."), Some(HostKind::Configured));
        assert_eq!(h.check("10.9.8.7:7812"), Some(HostKind::Configured));
    }

    #[test]
    fn other_hosts_are_refused() {
        let h = hosts();
        for bad in
            ["evil.example", "evil.example:7812", "localhost.evil.example", "192.168.1.21", "", "a@localhost", "[::2]"]
        {
            assert_eq!(h.check(bad), None, "{bad:?}");
        }
    }
}
