//! The caller's address for IP allowlists, per-IP limits and lockout. Behind a Function URL
//! there is no socket to ask: Lambda puts the client's address in the event's request context,
//! and this layer hands it to the router as the `ConnectInfo` the local server would provide.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// Adds `ConnectInfo` from the event when the source address parses; otherwise the request
/// goes on without one, which the router treats as an unknown caller.
pub fn attach(mut request: Request) -> Request {
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        _ => None,
    };
    if let Some(ip) = ip {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    request
}
