//! Which rate-limit bucket a request is charged to.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;

use raceway_auth::Principal;

use crate::rate_limit::ClientKey;

/// Per tenant when the caller is confined to one, else per credential; without credentials
/// configured (no caller), per client IP: the peer address, or, when
/// `trust_forwarded_for` is set (the gateway sits behind a proxy that appends to the header), the
/// last address of `X-Forwarded-For`. The last one is the address the proxy itself saw; earlier
/// ones come from the client and could be forged to dodge the limit. IPv6 clients are limited
/// per /64 network, since one host can use any address of its /64.
pub(crate) fn rate_limit_key(
    caller: Option<&Principal>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> ClientKey {
    if let Some(principal) = caller {
        return match &principal.tenant {
            Some(tenant) => ClientKey::Tenant(tenant.name.clone()),
            None => ClientKey::Credential(principal.name.clone()),
        };
    }
    let forwarded = trust_forwarded_for
        .then(|| last_forwarded_for(headers))
        .flatten();
    match forwarded.or(peer.map(|addr| addr.ip())) {
        Some(ip) => ClientKey::Ip(network(ip.to_canonical())),
        None => ClientKey::Unknown,
    }
}

fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
    }
}

fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()?
        .trim();
    // Some proxies add the port (`1.2.3.4:5678`, `[::1]:5678`).
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn peer() -> Option<SocketAddr> {
        Some("192.0.2.1:40000".parse().unwrap())
    }

    fn ip(raw: &str) -> ClientKey {
        ClientKey::Ip(raw.parse().unwrap())
    }

    /// The key of an anonymous request from `peer()` behind a trusted proxy.
    fn behind_proxy(headers: &HeaderMap) -> ClientKey {
        rate_limit_key(None, headers, peer(), true)
    }

    #[test]
    fn a_key_wins_over_any_address() {
        let caller = Principal {
            name: "writer".into(),
            roles: raceway_auth::Roles::all(),
            tenant: None,
        };
        let key = rate_limit_key(Some(&caller), &forwarded(&["10.0.0.9"]), peer(), true);
        assert_eq!(key, ClientKey::Credential("writer".into()));
    }

    #[test]
    fn the_peer_address_is_used_unless_forwarded_for_is_trusted() {
        let headers = forwarded(&["10.0.0.9"]);
        assert_eq!(
            rate_limit_key(None, &headers, peer(), false),
            ip("192.0.2.1")
        );
        assert_eq!(behind_proxy(&headers), ip("10.0.0.9"));
        assert_eq!(
            rate_limit_key(None, &headers, None, false),
            ClientKey::Unknown
        );
    }

    #[test]
    fn the_last_forwarded_address_counts_and_ports_are_ignored() {
        let headers = forwarded(&["6.6.6.6, 10.0.0.1", "10.0.0.2:1234"]);
        assert_eq!(behind_proxy(&headers), ip("10.0.0.2"));
        let v6 = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(behind_proxy(&v6), ip("2001:db8::"));
    }

    #[test]
    fn a_garbled_forwarded_for_falls_back_to_the_peer() {
        assert_eq!(behind_proxy(&forwarded(&["unknown"])), ip("192.0.2.1"));
    }

    #[test]
    fn ipv6_clients_of_one_slash_64_share_a_bucket() {
        let a = Some("[2001:db8:0:1::a]:5".parse().unwrap());
        let b = Some("[2001:db8:0:1:ffff::b]:5".parse().unwrap());
        let other = Some("[2001:db8:0:2::a]:5".parse().unwrap());
        let key = |peer| rate_limit_key(None, &HeaderMap::new(), peer, false);
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(other));
    }

    #[test]
    fn ipv4_mapped_ipv6_peers_share_the_ipv4_bucket() {
        let mapped = Some("[::ffff:192.0.2.1]:5".parse().unwrap());
        assert_eq!(
            rate_limit_key(None, &HeaderMap::new(), mapped, false),
            ip("192.0.2.1")
        );
    }
}
