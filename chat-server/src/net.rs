//! The machine's LAN addresses, for the start-up banner and the self-signed certificate.

use std::net::{IpAddr, SocketAddr};

/// Non-loopback addresses of this machine's interfaces (IPv4 first, then IPv6 without
/// link-local ones, which need a zone to be usable in a URL).
pub fn lan_addresses() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .filter(|ip| match ip {
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            IpAddr::V4(_) => true,
        })
        .collect();
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.dedup();
    ips
}

/// The URLs people can open: the local one, then one per LAN address when listening on every
/// interface (or the bound address when listening on one).
pub fn urls(scheme: &str, local: SocketAddr, lan: &[IpAddr]) -> Vec<String> {
    let port = local.port();
    let url = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}/"),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}/"),
    };
    if local.ip().is_unspecified() {
        let mut out = vec![format!("{scheme}://localhost:{port}/")];
        out.extend(lan.iter().filter(|ip| local.is_ipv6() || ip.is_ipv4()).map(|ip| url(*ip)));
        out
    } else if local.ip().is_loopback() {
        vec![format!("{scheme}://localhost:{port}/")]
    } else {
        vec![url(local.ip())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_every_interface() {
        let lan = ["192.168.1.20".parse().unwrap(), "fd00::5".parse().unwrap()];
        let all = urls("http", "0.0.0.0:7812".parse().unwrap(), &lan);
        assert_eq!(all, vec!["http://localhost:7812/", "http://192.168.1.20:7812/"]);
        let v6 = urls("https", "[::]:7812".parse().unwrap(), &lan);
        assert_eq!(v6[2], "https://[fd00::5]:7812/");
        let one = urls("http", "10.0.0.2:80".parse().unwrap(), &lan);
        assert_eq!(one, vec!["http://10.0.0.2:80/"]);
    }

    #[test]
    fn lan_addresses_exclude_loopback() {
        assert!(lan_addresses().iter().all(|ip| !ip.is_loopback()));
    }
}
