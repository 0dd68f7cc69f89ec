//! Per-request facts: a request id on every request and response (`x-request-id`), and
//! the client's address and user agent. The Access Log stores all three on its entries.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use ipnet::IpNet;
use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use crate::error::WebError;
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::login::Client;
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// This request's id: 16 random hex characters, made by the server. An id sent by the
/// client is ignored, so ids in the Access Log cannot be chosen by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Middleware: gives the request its id and returns it in the response header.
pub async fn assign_request_id(mut req: Request, next: Next) -> Response {
    let id = accesslog_core::secrets::random_hex(8);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or(RequestId(String::new())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client::of(parts))
    }
}

impl Client {
    /// The client of the request `parts` belong to: its address as [`identify_client`]
    /// found it, and its user agent.
    pub fn of(parts: &Parts) -> Client {
        let address = parts
            .extensions
            .get::<ClientAddress>()
            .cloned()
            .or_else(|| {
                let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
                Some(ClientAddress::direct(peer))
            });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        Client {
            ip: address
                .as_ref()
                .map(|a| a.client.to_string())
                .unwrap_or_default(),
            via: address.and_then(|a| a.via).map(|p| p.to_string()),
            user_agent,
        }
    }
}

/// Where a request came from: the client, and the trusted proxy it came through, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    pub client: IpAddr,
    /// The peer that connected to us, when it is a trusted proxy that named the client.
    pub via: Option<IpAddr>,
}

impl ClientAddress {
    fn direct(peer: IpAddr) -> Self {
        ClientAddress {
            client: peer.to_canonical(),
            via: None,
        }
    }

    /// The peer, and the client named by `headers` when the peer is one of `trusted`: the
    /// last address in `Forwarded` (or else `X-Forwarded-For`) that is not itself a trusted
    /// proxy. A header that cannot be read leaves the peer as the client.
    pub fn from_peer(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let peer = peer.to_canonical();
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(&peer) {
            return Self::direct(peer);
        }
        let chain = forwarded_for(headers).or_else(|| x_forwarded_for(headers));
        let client = chain.and_then(|hops| {
            hops.into_iter()
                .rev()
                .map(|ip| ip.to_canonical())
                .find(|ip| !is_trusted(ip))
        });
        match client {
            Some(client) => ClientAddress {
                client,
                via: Some(peer),
            },
            None => Self::direct(peer),
        }
    }
}

/// The `for=` addresses of every `Forwarded` header (RFC 7239), first hop first; `None`
/// when there is no such header or one of its `for=` values is not an address (`unknown`,
/// an obfuscated name), since the chain can then not be followed.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(header::FORWARDED) {
        let value = value.to_str().ok()?;
        for element in value.split(',') {
            for pair in element.split(';') {
                let Some((key, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("for") {
                    hops.push(parse_node(v.trim().trim_matches('"'))?);
                }
            }
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// A `Forwarded` node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]` or `[2001:db8::1]:80`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse().ok().or_else(|| {
        node.rsplit_once(':')?
            .0
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .map(IpAddr::V4)
    })
}

/// The addresses of every `X-Forwarded-For` header, first hop first.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for item in value.to_str().ok()?.split(',') {
            hops.push(parse_node(item.trim())?);
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// Middleware: finds the client's address (through `trusted_proxies`) once per request.
pub async fn identify_client(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let address =
            ClientAddress::from_peer(peer.ip(), req.headers(), &state.settings.trusted_proxies);
        req.extensions_mut().insert(address);
    }
    next.run(req).await
}

/// The header `name` as text (`None` when absent or not visible ASCII).
pub fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name)?.to_str().ok()
}

/// The parameter `name`, trimmed; `None` when absent or blank.
pub fn param<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// The parameter `name`, trimmed; 400 "`name` is missing" when absent or blank.
pub fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, WebError> {
    param(params, name).ok_or_else(|| WebError::BadRequest(format!("{name} is missing")))
}

/// The largest row offset or page a parameter may ask for: far beyond any real table, and
/// far within what SQL's 64-bit integers and our arithmetic hold.
pub const MAX_OFFSET: u64 = 1_000_000_000_000;

/// The whole number `name` (absent or blank: `default`): 400 naming the parameter when it
/// is not a whole number or is above `max`.
pub fn whole_number(
    params: &BTreeMap<String, String>,
    name: &str,
    default: u64,
    max: u64,
) -> Result<u64, WebError> {
    whole_number_in(name, params.get(name).map(String::as_str), default, max)
}

/// [`whole_number`] of the value `raw` of the parameter `name`.
pub fn whole_number_in(
    name: &str,
    raw: Option<&str>,
    default: u64,
    max: u64,
) -> Result<u64, WebError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    let shown: String = raw.chars().take(40).collect();
    let n: u64 = raw.parse().map_err(|_| {
        WebError::BadRequest(format!("`{name}` must be a whole number, not {shown:?}."))
    })?;
    if n > max {
        return Err(WebError::BadRequest(format!(
            "`{name}` is {shown}; it may be at most {max}."
        )));
    }
    Ok(n)
}

/// A method's parameters as Frappe's `frappe.form_dict` has them: the query string,
/// overridden by a form or JSON body ([`merged_params`]). An extractor that reads the
/// body, so it comes last among a handler's arguments; a query or body that cannot be
/// read is answered as axum's own extractors answer it.
pub struct FormDict(pub BTreeMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for FormDict {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        use axum::response::IntoResponse;
        let axum::extract::Query(query) =
            axum::extract::Query::<BTreeMap<String, String>>::try_from_uri(req.uri())
                .map_err(IntoResponse::into_response)?;
        let headers = req.headers().clone();
        let body = bytes::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        merged_params(query, &headers, &body)
            .map(FormDict)
            .map_err(IntoResponse::into_response)
    }
}

/// Parameters from the query string, overridden by a form or JSON body. JSON values that
/// are not strings are kept as JSON text (`filters` may come as an object).
pub fn merged_params(
    query: BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BTreeMap<String, String>, WebError> {
    let mut out = query;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let is_json = header_text(headers, header::CONTENT_TYPE)
        .is_some_and(|t| t.starts_with("application/json"));
    if is_json {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| WebError::BadRequest(format!("The JSON body is not valid: {e}.")))?;
        let Value::Object(map) = value else {
            return Err(WebError::BadRequest(
                "The JSON body must be an object.".to_owned(),
            ));
        };
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k, text);
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| WebError::BadRequest(format!("The form body is not valid: {e}.")))?;
        for (k, v) in pairs {
            out.insert(k, v);
        }
    }
    for (k, v) in &out {
        if let Some(problem) = crate::egress::text_problem(v, usize::MAX) {
            return Err(WebError::BadRequest(format!(
                "The parameter `{}` {problem}.",
                k.chars().take(200).collect::<String>()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_checked_not_wrapped() {
        let p: BTreeMap<String, String> = [
            ("a", "12"),
            ("huge", "99999999999999999999999"),
            ("neg", "-1"),
            ("word", "ten"),
            ("blank", " "),
            ("big", "1000001"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(whole_number(&p, "a", 1, 100).unwrap(), 12);
        assert_eq!(whole_number(&p, "missing", 7, 100).unwrap(), 7);
        assert_eq!(whole_number(&p, "blank", 7, 100).unwrap(), 7);
        for bad in ["huge", "neg", "word"] {
            let e = whole_number(&p, bad, 1, u64::MAX).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{bad}` must be a whole number")),
                "{e}"
            );
        }
        let e = whole_number(&p, "big", 1, 1_000_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 1000000"), "{e}");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        let a = ClientAddress::from_peer(ip("198.51.100.1"), &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(
            a,
            ClientAddress {
                client: ip("198.51.100.1"),
                via: None
            }
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_is_kept_as_via() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.1.2.3")]);
        // The rightmost address that is not a trusted proxy: the left ones are the
        // client's own claims and could be anything.
        let a = ClientAddress::from_peer(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(
            a,
            ClientAddress {
                client: ip("203.0.113.9"),
                via: Some(ip("10.0.0.2"))
            }
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_ports_and_ipv6() {
        let trusted = nets(&["127.0.0.1/32"]);
        let h = headers(&[
            (
                "forwarded",
                r#"for="[2001:db8::7]:4711";proto=https, for=127.0.0.1"#,
            ),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        let a = ClientAddress::from_peer(ip("127.0.0.1"), &h, &trusted);
        assert_eq!(a.client, ip("2001:db8::7"));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;by=203.0.113.43")]);
        assert_eq!(
            ClientAddress::from_peer(ip("127.0.0.1"), &h, &trusted).client,
            ip("192.0.2.60")
        );
    }

    #[test]
    fn an_unreadable_chain_leaves_the_proxy_as_the_client() {
        let trusted = nets(&["127.0.0.1/32"]);
        for bad in [
            ("x-forwarded-for", "not-an-ip"),
            ("forwarded", "for=unknown"),
            ("forwarded", "for=_hidden"),
        ] {
            let a = ClientAddress::from_peer(ip("127.0.0.1"), &headers(&[bad]), &trusted);
            assert_eq!(
                a,
                ClientAddress {
                    client: ip("127.0.0.1"),
                    via: None
                },
                "{bad:?}"
            );
        }
        // No header at all: the proxy is the client.
        let a = ClientAddress::from_peer(ip("127.0.0.1"), &HeaderMap::new(), &trusted);
        assert_eq!(a.via, None);
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_blocks() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        let a = ClientAddress::from_peer(ip("::ffff:10.0.0.2"), &h, &trusted);
        assert_eq!(a.client, ip("203.0.113.9"));
    }
}
