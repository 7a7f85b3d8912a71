//! The InvokeEndpoint body: the OpenAI chat request itself, as LMI, vLLM and TGI containers
//! read it, without `model`. A SageMaker endpoint serves one model, which the endpoint name
//! already chose; vLLM would refuse a `model` it does not serve under that exact name, and
//! every one of these containers uses its own model when `model` is absent.

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use gateway_core::wire::ChatRequest;
use serde_json::Value;

pub(crate) fn invocation_body(
    mut request: ChatRequest,
    stream: bool,
) -> Result<Vec<u8>, ProviderError> {
    request.routing_hints = None;
    request.fallback_chain = None;
    if stream {
        request.stream = Some(true);
        // Usage is asked for always, so the gateway has the container's own count; the
        // relay drops the usage chunk when the client did not ask for it.
        let mut options = request.stream_options.take().unwrap_or_default();
        options.include_usage = Some(true);
        request.stream_options = Some(options);
    } else {
        request.stream = None;
        request.stream_options = None;
    }
    let mut body = serde_json::to_value(&request).map_err(encode_error)?;
    if let Value::Object(map) = &mut body {
        map.remove("model");
    }
    serde_json::to_vec(&body).map_err(encode_error)
}

fn encode_error(e: serde_json::Error) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::InvalidResponse,
        format!("cannot encode the request: {e}"),
    )
}
