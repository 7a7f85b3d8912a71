"""The official Python `openai` SDK against Bedrock and SageMaker models (AWS protocols).

The gateway reaches the AWS fakes directly (no Prism: their service models are not OpenAPI);
tests/run.sh validates every body they recorded with botocore afterwards.
"""
import json

import openai
import pytest

from conftest import body_json

CLAUDE = "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "bedrock/amazon.nova-lite-v1:0"
SAGEMAKER = "sagemaker/llama-3-8b"
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def stream_parts(chunks):
    """(text, tool calls by index, finish reasons, last usage) of a list of chunks."""
    text, calls, finishes, usage = "", {}, [], None
    for c in chunks:
        if c.usage is not None:
            usage = c.usage
        if not c.choices:
            continue
        delta = c.choices[0].delta
        text += delta.content or ""
        for d in delta.tool_calls or []:
            slot = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
            slot["id"] = d.id or slot["id"]
            if d.function and d.function.name:
                slot["name"] += d.function.name
            if d.function and d.function.arguments:
                slot["arguments"] += d.function.arguments
        if c.choices[0].finish_reason:
            finishes.append(c.choices[0].finish_reason)
    return text, calls, finishes, usage


def test_bedrock_chat_is_a_signed_converse_call(client, fakes, marker):
    resp = client.chat.completions.create(
        model=CLAUDE,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Hello {marker}"}],
        max_tokens=100,
        temperature=0.5,
    )
    assert marker in resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    call = fakes.find_one("bedrock", marker)
    assert call["path"] == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    assert call["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={fakes.keys['bedrock']}/")
    sent = body_json(call)
    assert sent["system"] == [{"text": "Be brief."}]
    assert sent["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.5}


@pytest.mark.parametrize("model", [CLAUDE, SAGEMAKER])
def test_stream_has_role_first_text_finish_and_full_usage(client, marker, model):
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": f"Stream {marker}"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text, calls, finishes, usage = stream_parts(chunks)
    assert "simulated reply" in text and marker in text
    assert not calls and finishes == ["stop"]
    assert usage is not None and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    whole = client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"Stream {marker}"}])
    assert whole.usage.completion_tokens == usage.completion_tokens


@pytest.mark.parametrize("model", [CLAUDE, SAGEMAKER])
def test_tool_calls_are_the_same_streamed_or_not(client, model):
    kwargs = dict(model=model, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER_TOOL])
    whole = client.chat.completions.create(**kwargs)
    assert whole.choices[0].finish_reason == "tool_calls"
    call = whole.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id
    _, calls, finishes, _ = stream_parts(list(client.chat.completions.create(stream=True, **kwargs)))
    assert len(calls) == 1 and calls[0]["id"] and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == json.loads(call.function.arguments)
    assert finishes == ["tool_calls"]


def test_bedrock_tool_round_trip(client, fakes, marker):
    messages = [{"role": "user", "content": f"Weather in Paris? {marker}"}]
    first = client.chat.completions.create(model=CLAUDE, messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'})
    second = client.chat.completions.create(model=CLAUDE, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert "temp_c" in second.choices[0].message.content
    sent = body_json(fakes.find("bedrock", marker)[-1])
    assert sent["messages"][1]["content"][-1]["toolUse"]["toolUseId"] == call.id
    assert sent["messages"][2]["content"][0]["toolResult"]["toolUseId"] == call.id


def test_bedrock_image_travels_as_bytes(client, fakes, marker):
    resp = client.chat.completions.create(
        model=NOVA,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": f"What is in this image? {marker}"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
        ]}],
    )
    assert resp.choices[0].message.content
    block = body_json(fakes.find_one("bedrock", marker))["messages"][0]["content"][1]
    assert block == {"image": {"format": "png", "source": {"bytes": PNG_1PX}}}


def test_bedrock_image_url_is_a_400_naming_the_part(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=NOVA,
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}],
        )
    assert e.value.body["param"] == "messages[0].content[0]"


def test_bedrock_throttling_is_a_retryable_429(client):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "[[fake status=429 retry_after=2]]"}])
    assert e.value.response.headers.get("retry-after") == "2"


def test_sagemaker_body_is_the_openai_request_without_model(client, fakes, marker):
    client.chat.completions.create(model=SAGEMAKER, messages=[{"role": "user", "content": f"Hi {marker}"}], max_tokens=30)
    call = fakes.find_one("sagemaker", marker)
    assert call["path"] == "/endpoints/llama-3-8b-endpoint/invocations"
    assert "/sagemaker/aws4_request" in call["authorization"]
    sent = body_json(call)
    assert "model" not in sent and sent["max_tokens"] == 30


def test_midstream_disconnect_on_bedrock_raises(direct_client):
    with pytest.raises(openai.APIError):
        list(direct_client.chat.completions.create(
            model=CLAUDE, stream=True, messages=[{"role": "user", "content": "[[fake disconnect_after=3 words=30]]"}]))


def test_sagemaker_image_parts_reach_the_container_unchanged(client, fakes, marker):
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}}
    resp = client.chat.completions.create(
        model=SAGEMAKER,
        messages=[{"role": "user", "content": [{"type": "text", "text": f"Describe {marker}"}, image]}],
    )
    assert resp.choices[0].message.content
    sent = body_json(fakes.find_one("sagemaker", marker))
    assert sent["messages"][0]["content"][1] == image
