//! What a hub registration may say: a callback that is an http(s) URL not pointing at this
//! server, and a `query` naming event types (MEF 123 R101: `eventType=a`, `eventType=a,b`,
//! `eventType=a&eventType=b`; empty for all).

use lso_model::Violation;
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};

/// Where this server is: the addresses it listens on and the root URL its links start with, so
/// callbacks to itself can be refused.
#[derive(Debug, Clone, Default)]
pub struct SelfAddresses {
    /// The addresses it listens on.
    pub listening: Vec<SocketAddr>,
    /// The root URL of the `href`s it writes (`https://lso.example.net`), if it has one.
    pub origin: Option<String>,
    /// Whether callbacks may point inside (loopback, link-local, private ranges): for labs and
    /// tests, never across the Internet.
    pub allow_private_callbacks: bool,
}

impl SelfAddresses {
    /// A server listening on `listening`, reached at `origin`.
    pub fn new(listening: SocketAddr, origin: &str) -> Self {
        SelfAddresses {
            listening: vec![listening],
            origin: Some(origin.trim_end_matches('/').to_owned()),
            allow_private_callbacks: false,
        }
    }

    /// The absolute URI of `path` on this server, if it has a root URL.
    pub fn href(&self, path: &str) -> Option<String> {
        self.origin.as_ref().map(|origin| format!("{origin}{path}"))
    }

    fn contains(&self, host: &str, port: u16) -> bool {
        let public = self.origin.as_deref().and_then(|o| Url::parse(o).ok());
        if public.is_some_and(|o| o.host_str() == Some(host) && o.port_or_known_default() == Some(port)) {
            return true;
        }
        let ip: Option<IpAddr> = match host {
            "localhost" => Some(IpAddr::from([127, 0, 0, 1])),
            other => other.trim_start_matches('[').trim_end_matches(']').parse().ok(),
        };
        self.listening.iter().any(|addr| {
            addr.port() == port
                && ip.is_some_and(|ip| {
                    ip == addr.ip()
                        || (addr.ip().is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
                        || (ip.is_loopback() && addr.ip().is_loopback())
                })
        })
    }
}

/// A registration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRequest {
    /// The callback as given.
    pub callback: String,
    /// The query as given.
    pub query: Option<String>,
    /// The event types it selects; empty for all.
    pub event_types: Vec<String>,
}

/// Checks a callback URL: http or https, with a host, not this server, and (unless private
/// callbacks are allowed) not inside.
pub async fn validate_callback(callback: &str, this_server: &SelfAddresses) -> Result<(), Violation> {
    let url = Url::parse(callback)
        .map_err(|e| Violation::invalid("/callback", format!("`{callback}` is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Violation::invalid(
            "/callback",
            format!("the callback must be an http or https URL, not `{}`", url.scheme()),
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Violation::invalid("/callback", "the callback has no host"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Violation::invalid("/callback", "the callback must not carry a query or a fragment"));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    if this_server.contains(host, port) {
        return Err(Violation::invalid("/callback", "the callback points at this server itself"));
    }
    if !this_server.allow_private_callbacks
        && let Some(refusal) = crate::guard::refusal(host, port).await
    {
        return Err(Violation::invalid("/callback", format!("{refusal}: notifications are not sent inside")));
    }
    Ok(())
}

/// The event types a `query` selects, each checked against `known`.
pub fn event_types_of_query(query: Option<&str>, known: &[&str]) -> Result<Vec<String>, Violation> {
    let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut types = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != "eventType" {
            return Err(Violation::invalid("/query", format!("only `eventType` can be queried, not `{key}`")));
        }
        for name in value.split(',').map(str::trim) {
            if !known.contains(&name) {
                return Err(Violation::invalid(
                    "/query",
                    format!("`{name}` is not an event type of this API; known: {}", known.join(", ")),
                ));
            }
            if !types.iter().any(|t| t == name) {
                types.push(name.to_owned());
            }
        }
    }
    Ok(types)
}

impl HubRequest {
    /// Checks a registration of `callback` and `query` for an API with the `known` event types.
    pub async fn check(
        callback: &str,
        query: Option<&str>,
        known: &[&str],
        this_server: &SelfAddresses,
    ) -> Result<HubRequest, Vec<Violation>> {
        let mut problems = Vec::new();
        if let Err(v) = validate_callback(callback, this_server).await {
            problems.push(v);
        }
        let event_types = event_types_of_query(query, known).unwrap_or_else(|v| {
            problems.push(v);
            Vec::new()
        });
        if problems.is_empty() {
            Ok(HubRequest { callback: callback.to_owned(), query: query.map(str::to_owned), event_types })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["a", "b", "c"];

    #[test]
    fn mef123_r101_event_type_query_forms() {
        assert_eq!(event_types_of_query(None, KNOWN).unwrap(), Vec::<String>::new());
        assert_eq!(event_types_of_query(Some("eventType=a"), KNOWN).unwrap(), ["a"]);
        assert_eq!(event_types_of_query(Some("eventType=a,b"), KNOWN).unwrap(), ["a", "b"]);
        assert_eq!(event_types_of_query(Some("eventType=a&eventType=c"), KNOWN).unwrap(), ["a", "c"]);
        assert!(event_types_of_query(Some("eventType=z"), KNOWN).is_err());
        assert!(event_types_of_query(Some("state=x"), KNOWN).is_err());
    }

    #[tokio::test]
    async fn callbacks_must_be_http_and_not_this_server() {
        let mut me = SelfAddresses::new("127.0.0.1:8080".parse().unwrap(), "https://lso.example.net/");
        me.allow_private_callbacks = true;
        assert!(validate_callback("http://127.0.0.1:9000", &me).await.is_ok());
        assert!(validate_callback("https://buyer.example/cb", &me).await.is_ok());
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "not a url",
            "http://127.0.0.1:8080",
            "http://localhost:8080/x",
            "https://lso.example.net/mefApi/listener",
            "http://",
        ] {
            assert!(validate_callback(bad, &me).await.is_err(), "{bad}");
        }
        let any = SelfAddresses {
            listening: vec!["0.0.0.0:8080".parse().unwrap()],
            origin: None,
            allow_private_callbacks: true,
        };
        assert!(validate_callback("http://127.0.0.2:8080", &any).await.is_err());
    }

    #[tokio::test]
    async fn callbacks_inside_are_refused_unless_allowed() {
        let me = SelfAddresses::new("127.0.0.1:8080".parse().unwrap(), "https://lso.example.net/");
        for inside in
            ["http://127.0.0.1:9000", "http://169.254.169.254/latest", "http://[fe80::1]/x", "http://localhost:9/"]
        {
            let refused = validate_callback(inside, &me).await.unwrap_err();
            assert!(refused.reason.contains("not sent inside"), "{inside}: {}", refused.reason);
        }
        assert!(validate_callback("https://203.0.113.7/cb", &me).await.is_ok());
    }
}
