"""The official Python `openai` SDK against the running gateway (happy paths)."""
import base64
import json
import struct

import pytest

from conftest import CHAT_MODELS, CHAT_PATHS, EMBED_MODELS, body_json

PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current local time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}


def gateway_meta(obj):
    """The `x-llm-gateway` body field of a parsed SDK object."""
    extra = obj.model_extra or {}
    assert "x-llm-gateway" in extra, f"no x-llm-gateway field in {obj.model_dump()}"
    return extra["x-llm-gateway"]


# ------------------------------------------------------------------ models


def test_models_list_contains_catalog(client):
    ids = {m.id for m in client.models.list()}
    for model in list(CHAT_MODELS.values()) + list(EMBED_MODELS.values()):
        assert model in ids, f"{model} missing from GET /v1/models: {sorted(ids)}"


# ------------------------------------------------------------------ chat


@pytest.mark.parametrize("provider", list(CHAT_MODELS))
def test_chat_each_provider(client, fakes, marker, provider):
    model = CHAT_MODELS[provider]
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"Hello {marker}"}]
    )
    assert raw.headers.get("x-request-id"), "missing x-request-id header"
    assert raw.headers.get("x-llm-gateway"), "missing x-llm-gateway header"
    resp = raw.parse()
    assert resp.object == "chat.completion"
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert "simulated reply" in choice.message.content
    assert marker in choice.message.content
    assert choice.finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    meta = gateway_meta(resp)
    for key in (
        "request_id", "routing_decision", "provider", "model", "cost_usd",
        "latency_ms", "routing_overhead_ms", "fallback_used",
    ):
        assert key in meta, f"x-llm-gateway lacks {key}: {meta}"
    assert meta["provider"] == provider
    assert meta["request_id"] == raw.headers["x-request-id"]
    if provider in ("bedrock", "sagemaker"):
        return  # AWS protocols: their upstream calls are checked in test_aws.py
    # The upstream saw the provider's own model id and the provider key, not the client's.
    call = fakes.find_one(provider, marker)
    upstream_model = model.split("/", 1)[1]
    if provider == "gemini":
        # Gemini's own API: the model in the path, the key in x-goog-api-key (the fake
        # refuses any call without it).
        assert call["path"].endswith(f"/models/{upstream_model}:generateContent")
        assert call["authorization"] is None
        return
    assert call["path"].endswith(CHAT_PATHS.get(provider, "/chat/completions"))
    if provider != "anthropic":  # Anthropic takes its key in x-api-key
        assert call["authorization"] == f"Bearer {fakes.keys[provider]}"
    assert body_json(call)["model"] == upstream_model


def test_chat_auto_routes_somewhere(client):
    resp = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Hi"}])
    assert "simulated reply" in resp.choices[0].message.content
    meta = gateway_meta(resp)
    assert meta["provider"] in CHAT_MODELS
    assert meta["routing_decision"]


def test_chat_multi_turn_with_system(client, fakes, marker):
    resp = client.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": f"second {marker}"},
        ],
    )
    assert marker in resp.choices[0].message.content
    sent = body_json(fakes.find_one("openai", marker))
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]


def test_stream_text_and_usage(client, marker):
    messages = [{"role": "user", "content": f"Stream to me {marker}"}]
    full = client.chat.completions.create(model="openai/gpt-4o", messages=messages)
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers.get("x-request-id"), "stream response lacks x-request-id"
    assert raw.headers.get("x-llm-gateway"), "stream response lacks x-llm-gateway"
    chunks = list(raw.parse())
    assert chunks, "empty stream"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "chunk ids differ within one stream"
    usage = chunks[-1].usage
    assert usage is not None, "include_usage: the last chunk carries no usage"
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert "x-llm-gateway" in (chunks[-1].model_extra or {}), "last chunk lacks x-llm-gateway"


def test_stream_without_include_usage_has_no_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="groq/llama-3.3-70b-versatile",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.usage is None for c in chunks), "usage sent although include_usage was not asked"


@pytest.mark.parametrize("provider", ["groq", "together", "mistral"])
def test_stream_each_provider(client, marker, provider):
    stream = client.chat.completions.create(
        model=CHAT_MODELS[provider],
        messages=[{"role": "user", "content": f"Hi {marker}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "simulated reply" in text and marker in text
    assert chunks[-1].usage is not None


# ------------------------------------------------------------------ tools


def test_tool_call_then_tool_result(client, fakes, marker):
    messages = [{"role": "user", "content": f"Weather in Paris? {marker}"}]
    resp = client.chat.completions.create(
        model="openai/gpt-4o", messages=messages, tools=[WEATHER_TOOL], tool_choice="auto"
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert isinstance(json.loads(calls[0].function.arguments), dict)
    assert calls[0].id
    sent = body_json(fakes.find_one("openai", marker))
    assert sent["tools"][0]["function"]["name"] == "get_weather"

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp_c": 21}'})
    second = client.chat.completions.create(model="openai/gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content
    assert not second.choices[0].message.tool_calls


def reassemble_tool_calls(chunks):
    calls = {}
    for c in chunks:
        if not c.choices:
            continue
        for d in c.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
            if d.id:
                slot["id"] = d.id
            if d.function and d.function.name:
                slot["name"] += d.function.name
            if d.function and d.function.arguments:
                slot["arguments"] += d.function.arguments
    return [calls[i] for i in sorted(calls)]


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_streamed_tool_call_deltas_reassemble(client, provider):
    kwargs = dict(
        model=CHAT_MODELS[provider],
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],
    )
    full = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    calls = reassemble_tool_calls(chunks)
    assert len(calls) == 1, calls
    assert calls[0]["id"], "streamed tool call has no id"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == json.loads(full.choices[0].message.tool_calls[0].function.arguments)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"]


def test_parallel_tool_calls(client):
    resp = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "Weather and time in Tokyo?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice="auto",
    )
    calls = resp.choices[0].message.tool_calls
    assert resp.choices[0].finish_reason == "tool_calls"
    assert sorted(c.function.name for c in calls) == ["get_time", "get_weather"]
    assert len({c.id for c in calls}) == 2, "parallel tool calls share an id"
    for c in calls:
        json.loads(c.function.arguments)


def test_parallel_tool_calls_streamed(client):
    chunks = list(
        client.chat.completions.create(
            model="groq/llama-3.3-70b-versatile",
            messages=[{"role": "user", "content": "Weather and time in Lima?"}],
            tools=[WEATHER_TOOL, TIME_TOOL],
            stream=True,
        )
    )
    calls = reassemble_tool_calls(chunks)
    assert sorted(c["name"] for c in calls) == ["get_time", "get_weather"]
    assert all(c["id"] for c in calls) and len({c["id"] for c in calls}) == 2
    for c in calls:
        json.loads(c["arguments"])


# ------------------------------------------------------------------ request options


def test_image_content_part(client, fakes, marker):
    resp = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"What is in this image? {marker}"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}", "detail": "low"}},
                ],
            }
        ],
    )
    assert resp.choices[0].message.content
    sent = body_json(fakes.find_one("openai", marker))
    parts = sent["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"] == f"data:image/png;base64,{PNG_1PX}"


def test_response_format_json_schema(client, fakes, marker):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "city_info", "strict": True, "schema": schema}}
    resp = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": f"Largest city of Peru? {marker}"}],
        response_format=response_format,
    )
    data = json.loads(resp.choices[0].message.content)
    assert isinstance(data, dict) and {"city", "population"} <= set(data), data
    sent = body_json(fakes.find_one("openai", marker))
    assert sent["response_format"] == response_format


def test_n_two_choices(client, fakes, marker):
    resp = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": f"Two please {marker}"}], n=2
    )
    assert [c.index for c in resp.choices] == [0, 1]
    assert all(c.message.content for c in resp.choices)
    assert body_json(fakes.find_one("openai", marker))["n"] == 2


def test_stop_and_seed(client, fakes, marker):
    resp = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": f"Count {marker}"}],
        stop=["simulated", "END"],
        seed=42,
    )
    # The reply is "This is a simulated reply ...": it ends before the stop sequence.
    assert resp.choices[0].finish_reason == "stop"
    assert resp.choices[0].message.content.strip() == "This is a"
    sent = body_json(fakes.find_one("openai", marker))
    assert sent["stop"] == ["simulated", "END"]
    assert sent["seed"] == 42


def test_logprobs(client, fakes, marker):
    resp = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": f"Logprobs {marker}"}],
        logprobs=True,
        top_logprobs=2,
    )
    sent = body_json(fakes.find_one("openai", marker))
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    lp = resp.choices[0].logprobs
    assert lp is not None and lp.content, "logprobs were asked for but none came back"
    for tok in lp.content:
        assert isinstance(tok.token, str) and tok.logprob <= 0
        assert len(tok.top_logprobs) == 2


@pytest.mark.parametrize("provider", ["openai", "groq", "together", "mistral"])
def test_max_completion_tokens(client, fakes, marker, provider):
    resp = client.chat.completions.create(
        model=CHAT_MODELS[provider],
        messages=[{"role": "user", "content": f"Be long [[fake words=200]] {marker}"}],
        max_completion_tokens=5,
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens <= 5
    sent = body_json(fakes.find_one(provider, marker))
    # OpenAI and Groq take max_completion_tokens; Together's and Mistral's APIs only max_tokens.
    limit = sent.get("max_completion_tokens", sent.get("max_tokens"))
    assert limit == 5, f"the token limit was not forwarded: {sent}"
    if provider in ("together", "mistral"):
        assert "max_completion_tokens" not in sent, sent


# ------------------------------------------------------------------ embeddings


@pytest.mark.parametrize("provider", list(EMBED_MODELS))
def test_embeddings_base64_default_equals_float(client, provider):
    model = EMBED_MODELS[provider]
    texts = ["hello world", "the gateway"]
    # The SDK asks for base64 by default and decodes it itself.
    raw = client.embeddings.with_raw_response.create(model=model, input=texts)
    wire = json.loads(raw.text)
    assert all(isinstance(d["embedding"], str) for d in wire["data"]), (
        "encoding_format=base64 was asked for but the embedding is not a base64 string"
    )
    decoded = raw.parse()
    as_float = client.embeddings.create(model=model, input=texts, encoding_format="float")
    assert [d.index for d in as_float.data] == [0, 1]
    assert len(decoded.data) == len(as_float.data) == 2
    for a, b in zip(decoded.data, as_float.data):
        assert len(a.embedding) == len(b.embedding) > 0
        # base64 carries little-endian float32: compare at float32 precision.
        b32 = struct.unpack(f"<{len(b.embedding)}f", struct.pack(f"<{len(b.embedding)}f", *b.embedding))
        assert list(a.embedding) == list(b32)
    assert as_float.usage.prompt_tokens > 0
    # And a base64 payload decodes to exactly 4 bytes per dimension.
    assert len(base64.b64decode(wire["data"][0]["embedding"])) == 4 * len(as_float.data[0].embedding)


def test_embeddings_float_single_input(client, fakes, marker):
    resp = client.embeddings.create(model="openai/text-embedding-3-small", input=f"one {marker}", encoding_format="float")
    assert resp.object == "list" and len(resp.data) == 1
    assert all(isinstance(x, float) for x in resp.data[0].embedding)
    call = fakes.find_one("openai", marker)
    assert call["path"].endswith("/embeddings")
    assert call["authorization"] == f"Bearer {fakes.keys['openai']}"


def test_mistral_gets_its_own_field_names(client, fakes, marker):
    """Mistral's API names the seed `random_seed` and refuses fields it does not define."""
    resp = client.chat.completions.create(
        model="mistral/mistral-small-latest",
        messages=[{"role": "user", "content": f"Seeded {marker}"}],
        seed=7,
        max_completion_tokens=50,
    )
    assert resp.choices[0].message.content
    sent = body_json(fakes.find_one("mistral", marker))
    assert sent.get("random_seed") == 7, f"seed not sent as random_seed: {sent}"
    assert "seed" not in sent and "max_completion_tokens" not in sent, sent
    assert sent.get("max_tokens") == 50, sent
