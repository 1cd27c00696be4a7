//! A DNS resolver for `reqwest` that refuses a host name when **any** address it resolves to is
//! forbidden by the SSRF rule ([`is_forbidden`]), so that a name pointing at loopback, a private
//! range or the metadata service, or one rebound there after registration, fails at connect
//! time. Install it with `reqwest::ClientBuilder::dns_resolver(Arc::new(GuardedResolver::new(..)))`.
//!
//! What it does not cover, and the client must: reqwest never calls a resolver for a URL whose
//! host is an IP literal (refuse those with `check_endpoint_url` up front); with a proxy the
//! resolver sees the proxy's name, not the endpoint's (build the client with `.no_proxy()`); and
//! a redirect is a new connection to a new name (use `redirect::Policy::none()`, as Standard
//! Webhooks asks anyway). `connect_timeout` bounds the lookup together with the connection.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::address_rule::is_forbidden;

/// Why a name was not resolved to anything to connect to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveRefused {
    #[error("{host} resolves to {address}, a loopback, private or otherwise non-public address")]
    ForbiddenAddress { host: String, address: IpAddr },
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
}

/// Resolves with the system resolver (`getaddrinfo`, through tokio) and screens the answer.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    /// `allow_private` lets every address through (for tests and the sandbox, whose receivers
    /// listen on loopback); otherwise a forbidden address refuses the whole name.
    pub fn new(allow_private: bool) -> GuardedResolver {
        GuardedResolver { allow_private }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: reqwest puts the URL's port (or the scheme's) in its place.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs = screen(&host, found, allow_private)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The addresses to connect to, or why there are none. Every address is checked, not only the
/// first: the client may try any of them.
pub fn screen(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, ResolveRefused> {
    if addrs.is_empty() {
        return Err(ResolveRefused::NoAddress {
            host: host.to_owned(),
        });
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
        return Err(ResolveRefused::ForbiddenAddress {
            host: host.to_owned(),
            address: bad.ip(),
        });
    }
    Ok(addrs)
}

/// The refusal behind a failed request, if the guard caused it (for the delivery log, which
/// should say "refused: resolves to 10.0.0.5" rather than "error sending request").
pub fn refusal_of<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ResolveRefused> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(refused) = error.downcast_ref::<ResolveRefused>() {
            return Some(refused);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::Arc;
    use std::time::Duration;

    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn addr(text: &str) -> SocketAddr {
        SocketAddr::new(text.parse().unwrap(), 443)
    }

    fn client(allow_private: bool) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(allow_private)))
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn localhost_is_refused_because_it_resolves_to_loopback() {
        let name = Name::from_str("localhost").unwrap();
        let error = match GuardedResolver::new(false).resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        let refused = error.downcast_ref::<ResolveRefused>().expect("a refusal");
        let ResolveRefused::ForbiddenAddress { host, address } = refused else {
            panic!("{refused:?}");
        };
        assert_eq!(host, "localhost");
        assert!(address.is_loopback(), "{address}");
        assert!(
            error.to_string().starts_with("localhost resolves to "),
            "{error}"
        );
    }

    #[tokio::test]
    async fn localhost_resolves_when_private_targets_are_allowed() {
        let name = Name::from_str("localhost").unwrap();
        let addrs: Vec<SocketAddr> = GuardedResolver::new(true)
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    #[tokio::test]
    async fn a_request_to_a_name_for_loopback_never_reaches_the_server() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .expect(0)
            .mount(&server)
            .await;
        let url = format!("http://localhost:{}/hook", server.address().port());
        let error = client(false)
            .post(&url)
            .body("{}")
            .send()
            .await
            .unwrap_err();
        let refused = refusal_of(&error).expect("the guard's refusal in the chain");
        assert!(
            matches!(refused, ResolveRefused::ForbiddenAddress { address, .. } if address.is_loopback()),
            "{refused:?}"
        );
        // `expect(0)` is checked when the server drops.
    }

    #[tokio::test]
    async fn a_request_to_a_name_for_loopback_goes_through_when_private_targets_are_allowed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let url = format!("http://localhost:{}/hook", server.address().port());
        let answer = client(true).post(&url).body("{}").send().await.unwrap();
        assert_eq!(answer.status(), 204);
    }

    // Why `check_endpoint_url` must refuse IP literals when an endpoint is registered: reqwest
    // connects to them without asking the resolver. Should reqwest start asking, this fails and
    // the comment at the top of this module can change.
    #[tokio::test]
    async fn an_ip_literal_url_bypasses_the_resolver() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let url = format!("http://{}/hook", server.address());
        let answer = client(false).post(&url).body("{}").send().await.unwrap();
        assert_eq!(answer.status(), 204);
    }

    #[test]
    fn one_forbidden_address_among_public_ones_refuses_the_name() {
        let mixed = vec![addr("93.184.216.34"), addr("10.0.0.5"), addr("8.8.8.8")];
        assert_eq!(
            screen("rebind.example", mixed.clone(), false),
            Err(ResolveRefused::ForbiddenAddress {
                host: "rebind.example".into(),
                address: "10.0.0.5".parse().unwrap(),
            })
        );
        assert_eq!(screen("rebind.example", mixed.clone(), true), Ok(mixed));
    }

    #[test]
    fn public_addresses_pass_and_an_empty_answer_is_refused() {
        let public = vec![
            addr("93.184.216.34"),
            addr("2606:2800:220:1:248:1893:25c8:1946"),
        ];
        assert_eq!(screen("example.com", public.clone(), false), Ok(public));
        assert_eq!(
            screen("example.com", Vec::new(), true),
            Err(ResolveRefused::NoAddress {
                host: "example.com".into()
            })
        );
        for forbidden in ["::ffff:127.0.0.1", "169.254.169.254", "fd00:ec2::254"] {
            assert!(
                screen("x.example", vec![addr(forbidden)], false).is_err(),
                "{forbidden}"
            );
        }
    }

    #[test]
    fn a_refusal_is_found_in_an_error_chain_and_other_errors_are_not_one() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] ResolveRefused);
        let refused = ResolveRefused::NoAddress { host: "h".into() };
        assert_eq!(refusal_of(&Outer(refused.clone())), Some(&refused));
        let other = std::io::Error::other("boom");
        assert_eq!(refusal_of(&other), None);
    }
}
