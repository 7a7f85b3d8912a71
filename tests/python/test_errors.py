"""Error behaviour as the official Python SDK sees it, plus the raw HTTP shapes behind it."""
import json
import time

import openai
import pytest


def user(text):
    return [{"role": "user", "content": text}]


def assert_error_shape(body):
    assert set(body) == {"error"}, body
    err = body["error"]
    for key in ("message", "type", "param", "code"):
        assert key in err, f"error lacks {key}: {err}"
    assert isinstance(err["message"], str) and err["message"]


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="openai/no-such-model", messages=user("hi"))
    assert exc.value.status_code == 404
    assert exc.value.code == "model_not_found"


def test_unknown_bare_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="definitely-not-a-model", messages=user("hi"))
    assert exc.value.code == "model_not_found"


def test_unknown_embedding_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.embeddings.create(model="openai/no-such-embedder", input="hi")
    assert exc.value.code == "model_not_found"


def test_bad_key_is_authentication_error(base_url):
    bad = openai.OpenAI(base_url=base_url, api_key="llm_gw_dev_" + "0" * 64, max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError) as exc:
        bad.chat.completions.create(model="openai/gpt-4o", messages=user("hi"))
    assert exc.value.status_code == 401
    assert_error_shape(exc.value.response.json())


def test_bad_key_on_models_and_embeddings(base_url):
    bad = openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model="openai/text-embedding-3-small", input="hi")


def test_temperature_out_of_range_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="openai/gpt-4o", messages=user("hi"), temperature=7)
    assert exc.value.status_code == 400
    assert_error_shape(exc.value.response.json())
    assert exc.value.param == "temperature"


def test_empty_messages_is_bad_request(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="openai/gpt-4o", messages=[])


def test_upstream_429_is_rate_limit_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(
            model="openai/gpt-4o", messages=user("slow down [[fake status=429 retry_after=7]]")
        )
    assert exc.value.status_code == 429
    assert exc.value.response.headers.get("retry-after") == "7"
    assert_error_shape(exc.value.response.json())


def test_upstream_503_is_502(client):
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(
            model="groq/llama-3.1-8b-instant", messages=user("down [[fake status=503]]")
        )
    assert exc.value.status_code == 502
    assert_error_shape(exc.value.response.json())


# Mid-stream failures go through the direct gateway: Prism's proxy never answers when its
# upstream drops a stream, so through it the gateway would only ever see a hang.


def test_midstream_disconnect_raises_not_hangs(direct_client):
    stream = direct_client.chat.completions.create(
        model="openai/gpt-4o",
        messages=user("tell me a long story [[fake words=80 disconnect_after=3]]"),
        stream=True,
    )
    started = time.monotonic()
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert time.monotonic() - started < 20, "the stream took too long to fail"
    assert received, "the error came before any chunk: expected a mid-stream failure"


def test_midstream_disconnect_ends_with_error_event(direct_http, gateway_key):
    body = {
        "model": "openai/gpt-4o",
        "stream": True,
        "messages": user("story [[fake words=80 disconnect_after=3]]"),
    }
    with direct_http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gateway_key}"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [ln[len("data: "):] for ln in r.iter_lines() if ln.startswith("data: ")]
    assert events, "no SSE events"
    assert events[-1] != "[DONE]", "a broken stream must not end with [DONE] as if complete"
    last = json.loads(events[-1])
    assert "error" in last, f"last event is not an error event: {events[-1]}"
    assert last["error"]["message"]
    assert any("choices" in json.loads(e) for e in events[:-1]), "no content chunk before the error"


def test_stream_is_incremental(direct_http, gateway_key):
    """Chunks reach the client as the upstream produces them, not all at the end."""
    body = {
        "model": "mistral/mistral-small-latest",
        "stream": True,
        "messages": user("slowly [[fake words=12 chunk_delay_ms=250]]"),
    }
    arrivals = []
    started = time.monotonic()
    with direct_http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gateway_key}"}
    ) as r:
        assert r.status_code == 200
        for ln in r.iter_lines():
            if ln.startswith("data: "):
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) >= 4, arrivals
    spread = arrivals[-1] - arrivals[0]
    assert spread >= 1.0, f"all events arrived within {spread:.2f}s: the stream was buffered ({arrivals})"


def test_midstream_disconnect_other_provider_raises(direct_client):
    """The same mid-stream death through the Python SDK, on a provider other than OpenAI."""
    stream = direct_client.chat.completions.create(
        model="groq/llama-3.1-8b-instant",
        messages=user("story [[fake words=60 disconnect_after=2]]"),
        stream=True,
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


ERROR_CASES = {
    "401 bad key": ({"model": "openai/gpt-4o", "messages": user("hi")}, "wrong-key", 401),
    "404 unknown model": ({"model": "openai/no-such-model", "messages": user("hi")}, None, 404),
    "400 invalid value": ({"model": "openai/gpt-4o", "messages": user("hi"), "temperature": 7}, None, 400),
    "429 upstream": ({"model": "openai/gpt-4o", "messages": user("[[fake status=429 retry_after=3]]")}, None, 429),
    "502 upstream 503": ({"model": "groq/llama-3.1-8b-instant", "messages": user("[[fake status=503]]")}, None, 502),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_responses_carry_gateway_headers(http, gateway_key, case):
    """Every response, errors included, has x-request-id and x-llm-gateway."""
    body, key, status = ERROR_CASES[case]
    r = http.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key or gateway_key}"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert_error_shape(r.json())
    assert r.headers.get("x-request-id"), "missing x-request-id"
    assert r.headers.get("x-llm-gateway"), f"missing x-llm-gateway header on a {status} (headers: {dict(r.headers)})"


def test_method_not_allowed_has_allow(http, gateway_key):
    r = http.delete("/v1/chat/completions", headers={"authorization": f"Bearer {gateway_key}"})
    assert r.status_code == 405
    assert "POST" in r.headers.get("allow", ""), r.headers
    assert_error_shape(r.json())


def test_body_too_large_is_413(http, gateway_key):
    big = "x" * (4 * 1024 * 1024 + 1024)
    r = http.post(
        "/v1/chat/completions",
        json={"model": "openai/gpt-4o", "messages": user(big)},
        headers={"authorization": f"Bearer {gateway_key}"},
    )
    assert r.status_code == 413
    assert_error_shape(r.json())


def test_invalid_json_is_400(http, gateway_key):
    r = http.post(
        "/v1/chat/completions",
        content=b'{"model": "openai/gpt-4o", "messages": [',
        headers={"authorization": f"Bearer {gateway_key}", "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert_error_shape(r.json())


def test_health(http):
    r = http.get("/health")
    assert r.status_code == 200
    r.json()


# ------------------------------------------------------------------ timeouts and cancellation
# On the direct gateway, whose upstream timeouts are 3 s (tests/run.sh).


def test_upstream_hang_is_504(direct_client):
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as exc:
        direct_client.chat.completions.create(model="openai/gpt-4o", messages=user("[[fake hang]]"))
    assert exc.value.status_code == 504
    assert_error_shape(exc.value.response.json())
    assert time.monotonic() - started < 15


def test_stream_first_chunk_timeout_fails_fast(direct_client):
    started = time.monotonic()
    with pytest.raises(openai.APIError):
        stream = direct_client.chat.completions.create(
            model="openai/gpt-4o", messages=user("[[fake ttft_ms=20000]]"), stream=True
        )
        for _ in stream:
            pass
    assert time.monotonic() - started < 15


def test_stream_stall_ends_with_error(direct_client):
    started = time.monotonic()
    received = []
    stream = direct_client.chat.completions.create(
        model="mistral/mistral-small-latest", messages=user("[[fake words=40 stall_after=3]]"), stream=True
    )
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert received, "no chunk arrived before the stall"
    assert time.monotonic() - started < 15


def test_client_abort_cancels_upstream(direct_http, gateway_key, fakes, marker):
    """A client that goes away mid-stream must not leave the upstream call running."""
    body = {
        "model": "openai/gpt-4o",
        "stream": True,
        "messages": user(f"long {marker} [[fake words=200 chunk_delay_ms=100]]"),
    }
    with direct_http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gateway_key}"}
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        seen = 0
        for ln in lines:
            if ln.startswith("data: "):
                seen += 1
                if seen == 3:
                    break
    # Leaving the block closed the connection after 3 of ~200 events.
    deadline = time.monotonic() + 5
    outcome = None
    while time.monotonic() < deadline:
        outcome = fakes.find_one("openai", marker)["outcome"]
        if outcome != "in_progress":
            break
        time.sleep(0.1)
    assert outcome == "client_disconnected", f"upstream call outcome after the client left: {outcome}"
