//! Bearer-key authentication and rate limiting for `/v1`. Keys are compared by SHA-256, never
//! stored in clear; with a store, [`crate::access`] decides who may call and how often, and the
//! response carries the caller's `X-RateLimit-*` headers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gateway_core::keys::GatewayKeyHash;
use gateway_core::{ApiError, ErrorKind};

use crate::errors::{ErrorResponse, error_response, payload_too_large};
use crate::request_id::RequestContext;
use crate::state::AppState;

/// The secret of `Authorization: Bearer <secret>`, if one is given.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The caller's address. Without a socket address (behind Lambda) it is unknown: IP
/// allowlists then refuse, and the per-IP limit and lockout apply to all such callers together.
pub fn client_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| {
            c.0.ip().to_canonical()
        })
}

pub async fn require_key(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = bearer(request.headers()).map(str::to_owned);
    let Some(presented) = presented else {
        return ErrorResponse::from(
            ApiError::new(
                ErrorKind::Authentication,
                "No API key provided. Send `Authorization: Bearer <your gateway key>`.",
            )
            .with_code("missing_api_key"),
        )
        .into_response();
    };
    let Some(access) = state.access.clone() else {
        let hash = GatewayKeyHash::of(&presented);
        return match state.keys.iter().find(|(_, h)| h.matches(&hash)) {
            Some(_) => next.run(request).await,
            None => ErrorResponse::from(
                ApiError::new(ErrorKind::Authentication, "Incorrect API key provided.")
                    .with_code("invalid_api_key"),
            )
            .into_response(),
        };
    };

    let ip = client_ip(request.extensions());
    let request_id = request
        .extensions()
        .get::<RequestContext>()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let is_chat = request.uri().path().ends_with("/chat/completions");
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => return error_response(&payload_too_large(state.max_body_bytes)),
    };
    let admitted = access
        .admit(&presented, ip, &request_id, Some((&bytes, is_chat)))
        .await;
    let (caller, standing) = match admitted {
        Ok(admitted) => admitted,
        Err(denied) => {
            let mut response = error_response(&denied.error);
            if let Some(standing) = denied.standing {
                standing.write(response.headers_mut());
            }
            return response;
        }
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    if let Some(context) = request.extensions_mut().get_mut::<RequestContext>() {
        context.caller = Some(caller.clone());
    }
    let mut response = next.run(request).await;
    caller.set_status(response.status().as_u16());
    if let Some(standing) = standing {
        standing.write(response.headers_mut());
    }
    response
}
