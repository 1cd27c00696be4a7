//! Which addresses a customer's webhook endpoint may point at: the SSRF rule. Events are sent
//! from inside our network, so an endpoint that reaches loopback, a private range, the cloud
//! metadata service or any other non-public address is refused. Pure code: [`check_endpoint_url`]
//! judges a URL when it is registered (an IP-literal host at once, since the HTTP client never
//! resolves those), and [`is_forbidden`] judges each resolved address at connect time (see
//! `net::guarded_resolver`), which also catches DNS rebinding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use url::{Host, Url};

/// IPv4 ranges that are not publicly routable, from IANA's special-purpose registry (RFC 6890
/// and its updates). The few blocks the registry marks "globally reachable" inside
/// 192.0.0.0/24 are refused with the rest: no webhook receiver lives there.
const FORBIDDEN_V4: [Ipv4Net; 17] = [
    v4(0, 0, 0, 0, 8),       // "this network", 0.0.0.0 included
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // carrier-grade NAT (also Alibaba's metadata, 100.100.100.200)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, with the cloud metadata 169.254.169.254
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation (TEST-NET-1)
    v4(192, 88, 99, 0, 24),  // the retired 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24),  // documentation (TEST-NET-3)
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, with the broadcast 255.255.255.255
    // Listed apart, though inside the ranges above, so that removing a range by mistake
    // still leaves the metadata service and broadcast refused.
    v4(169, 254, 169, 254, 32),
    v4(255, 255, 255, 255, 32),
];

/// Global unicast: IANA has allocated no other IPv6 space for public use, so every address
/// outside it (loopback, unspecified, unique-local fc00::/7 with AWS's metadata fd00:ec2::254,
/// link-local fe80::/10, site-local, multicast ff00::/8, discard 100::/64, …) is refused.
const GLOBAL_UNICAST: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// Special-purpose blocks inside global unicast.
const FORBIDDEN_V6_IN_GLOBAL: [Ipv6Net; 3] = [
    // IETF protocol assignments (Teredo, ORCHID, benchmarking 2001:2::/48, …)
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    // documentation
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    // documentation (RFC 9637)
    Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// IPv4-mapped `::ffff:a.b.c.d`: the socket reaches the embedded IPv4 address.
const V4_MAPPED: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);
/// The deprecated IPv4-compatible form `::a.b.c.d`.
const V4_COMPATIBLE: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 96);
/// NAT64's well-known prefix: a NAT64 gateway forwards to the embedded IPv4 address.
const NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
/// 6to4: the IPv4 address of the relay sits in bits 16 to 48.
const SIX_TO_FOUR: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

/// The longest endpoint URL accepted, in bytes (the length browsers and most servers take).
pub const MAX_URL_CHARS: usize = 2048;

/// Why an endpoint URL is refused. The messages suit a field error (`url` is prefixed there).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressRuleError {
    #[error("must be at most 2048 characters")]
    TooLong,
    #[error("is not a valid URL")]
    NotAUrl,
    #[error("must use https")]
    NotHttps,
    #[error("must use http or https")]
    NotHttp,
    #[error("must not contain a user name or password")]
    Userinfo,
    #[error("must have a host")]
    NoHost,
    #[error("points to {0}, a loopback, private or otherwise non-public address")]
    ForbiddenAddress(IpAddr),
}

/// Whether a connection to `ip` must be refused: any address that is not public unicast,
/// judging IPv4-mapped, IPv4-compatible, NAT64 and 6to4 addresses by the IPv4 address inside.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => FORBIDDEN_V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_forbidden(IpAddr::V4(v4)),
            None => {
                !GLOBAL_UNICAST.contains(&v6)
                    || FORBIDDEN_V6_IN_GLOBAL.iter().any(|net| net.contains(&v6))
            }
        },
    }
}

/// The IPv4 address a connection to `v6` really reaches, for the forms that carry one.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = v6.octets();
    let low = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if V4_MAPPED.contains(&v6) || NAT64.contains(&v6) {
        Some(low)
    } else if V4_COMPATIBLE.contains(&v6) {
        // `::` and `::1` are in this block too; as `0.0.0.0` and `0.0.0.1` they are refused all
        // the same.
        Some(low)
    } else if SIX_TO_FOUR.contains(&v6) {
        Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]))
    } else {
        None
    }
}

/// Checks an endpoint URL when it is registered, and returns it parsed: `https` (or `http` when
/// `allow_http`), no user name or password, a host; a host written as an IP address is judged
/// by [`is_forbidden`] at once unless `allow_private`. A host name is left to connect time,
/// where the guarded resolver judges every address it resolves to.
pub fn check_endpoint_url(
    text: &str,
    allow_http: bool,
    allow_private: bool,
) -> Result<Url, AddressRuleError> {
    if text.len() > MAX_URL_CHARS {
        return Err(AddressRuleError::TooLong);
    }
    let url = Url::parse(text).map_err(|_| AddressRuleError::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ if allow_http => return Err(AddressRuleError::NotHttp),
        _ => return Err(AddressRuleError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AddressRuleError::Userinfo);
    }
    let ip = match url.host() {
        None => return Err(AddressRuleError::NoHost),
        Some(Host::Domain("")) => return Err(AddressRuleError::NoHost),
        Some(Host::Domain(_)) => return Ok(url),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if !allow_private && is_forbidden(ip) {
        return Err(AddressRuleError::ForbiddenAddress(ip));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_forbidden() {
        for text in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.100.100.200",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "64:ff9b:1::1",
            "2001:db8::1",
            "2001::1",
            "2001:2::1",
            "3fff::1",
            "5f00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(is_forbidden(ip(text)), "{text} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "192.169.0.1",
            "223.255.255.255",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2001:4860:4860::8888",
            "2a00:1450:4001:80b::200e",
            "::ffff:93.184.216.34",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_forbidden(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn the_boundaries_of_each_ipv4_range_are_exact() {
        for net in FORBIDDEN_V4 {
            let first = net.network();
            let last = net.broadcast();
            assert!(is_forbidden(IpAddr::V4(first)), "{net}");
            assert!(is_forbidden(IpAddr::V4(last)), "{net}");
        }
        // Just outside: the neighbours of each range that are themselves public.
        for text in ["9.255.255.255", "11.0.0.0", "126.255.255.255", "128.0.0.0"] {
            assert!(!is_forbidden(ip(text)), "{text}");
        }
    }

    #[test]
    fn an_https_url_to_a_name_or_a_public_address_is_accepted() {
        for text in [
            "https://hooks.example.com/mosaic",
            "https://hooks.example.com:8443/a?b=c",
            "https://93.184.216.34/hook",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        ] {
            let url = check_endpoint_url(text, false, false).unwrap();
            assert_eq!(
                url.as_str().trim_end_matches('/'),
                text.trim_end_matches('/')
            );
        }
        // Names are judged at connect time, `localhost` included.
        assert!(check_endpoint_url("https://localhost/hook", false, false).is_ok());
    }

    #[test]
    fn an_ip_literal_host_is_judged_at_once() {
        for (text, address) in [
            ("https://127.0.0.1/", "127.0.0.1"),
            ("https://10.0.0.1:8443/x", "10.0.0.1"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("https://[::1]/", "::1"),
            ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("https://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
            ("https://[fd00::1]/", "fd00::1"),
            ("https://0.0.0.0/", "0.0.0.0"),
            ("https://100.64.0.1/", "100.64.0.1"),
            ("https://224.0.0.1/", "224.0.0.1"),
            // The forms a browser's URL parser also reads as IPv4.
            ("https://2130706433/", "127.0.0.1"),
            ("https://0x7f.1/", "127.0.0.1"),
            ("https://0177.0.0.1/", "127.0.0.1"),
            ("https://127.1/", "127.0.0.1"),
            ("https://0/", "0.0.0.0"),
            ("https://127.0.0.1./", "127.0.0.1"),
        ] {
            let error = check_endpoint_url(text, false, false).unwrap_err();
            assert_eq!(
                error,
                AddressRuleError::ForbiddenAddress(ip(address)),
                "{text}"
            );
            assert!(check_endpoint_url(text, false, true).is_ok(), "{text}");
        }
        assert_eq!(
            AddressRuleError::ForbiddenAddress(ip("10.0.0.1")).to_string(),
            "points to 10.0.0.1, a loopback, private or otherwise non-public address"
        );
    }

    #[test]
    fn http_is_refused_unless_allowed() {
        assert_eq!(
            check_endpoint_url("http://hooks.example.com/", false, false),
            Err(AddressRuleError::NotHttps)
        );
        assert!(check_endpoint_url("http://hooks.example.com/", true, false).is_ok());
        // Allowing http does not allow private targets.
        assert_eq!(
            check_endpoint_url("http://127.0.0.1:8080/", true, false),
            Err(AddressRuleError::ForbiddenAddress(ip("127.0.0.1")))
        );
        assert!(check_endpoint_url("http://127.0.0.1:8080/", true, true).is_ok());
    }

    #[test]
    fn other_schemes_are_refused() {
        for text in [
            "ftp://hooks.example.com/",
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/_INFO",
            "data:text/plain,hi",
            "javascript:alert(1)",
            "ws://hooks.example.com/",
        ] {
            assert_eq!(
                check_endpoint_url(text, false, true),
                Err(AddressRuleError::NotHttps),
                "{text}"
            );
            assert_eq!(
                check_endpoint_url(text, true, true),
                Err(AddressRuleError::NotHttp),
                "{text}"
            );
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        for text in [
            "https://user@hooks.example.com/",
            "https://user:pass@hooks.example.com/",
            "https://:pass@hooks.example.com/",
            "https://hooks.example.com@127.0.0.1/",
        ] {
            assert_eq!(
                check_endpoint_url(text, false, true),
                Err(AddressRuleError::Userinfo),
                "{text}"
            );
        }
    }

    #[test]
    fn a_url_without_a_host_or_not_a_url_is_refused() {
        for text in [
            "",
            "hooks.example.com",
            "/relative/path",
            "https://",
            "https://:443/",
        ] {
            let error = check_endpoint_url(text, false, false).unwrap_err();
            assert!(
                matches!(error, AddressRuleError::NotAUrl | AddressRuleError::NoHost),
                "{text}: {error:?}"
            );
        }
        assert_eq!(
            check_endpoint_url("https://exa mple.com/", false, false),
            Err(AddressRuleError::NotAUrl)
        );
    }

    #[test]
    fn a_url_longer_than_the_limit_is_refused_before_parsing() {
        let at_limit = format!(
            "https://hooks.example.com/{}",
            "a".repeat(MAX_URL_CHARS - 26)
        );
        assert_eq!(at_limit.len(), MAX_URL_CHARS);
        assert!(check_endpoint_url(&at_limit, false, false).is_ok());
        let over = format!("{at_limit}a");
        assert_eq!(
            check_endpoint_url(&over, false, false),
            Err(AddressRuleError::TooLong)
        );
        assert_eq!(
            check_endpoint_url(&"é".repeat(MAX_URL_CHARS), false, false),
            Err(AddressRuleError::TooLong)
        );
    }
}
