"""The official Python SDK (and LangChain) against Anthropic models: the gateway speaks
Anthropic's Messages API upstream, through a Prism proxy validating against Anthropic's spec."""
import json
import time

import openai
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI

from conftest import body_json

MODEL = "anthropic/claude-sonnet-4-6"
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
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
    },
}


def sent(fakes, marker):
    """The Messages request the fake Anthropic received for this test."""
    call = fakes.find_one("anthropic", marker)
    assert call["path"] == "/v1/messages"
    return body_json(call)


def test_chat_with_system_and_turns(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": f"second {marker}"},
        ],
        stop=["NEVER"],
        user="user-7",
    )
    choice = resp.choices[0]
    assert choice.message.content == f"This is a simulated reply from claude-sonnet-4-6. You said: second {marker}"
    assert choice.finish_reason == "stop"
    assert resp.id.startswith("msg_")
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens > 0
    assert resp.model_extra["x-llm-gateway"]["provider"] == "anthropic"
    body = sent(fakes, marker)
    assert body["system"] == "You are terse."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 64000
    assert body["stop_sequences"] == ["NEVER"]
    assert body["metadata"] == {"user_id": "user-7"}


def test_stream_has_role_first_and_full_usage(client, marker):
    messages = [{"role": "user", "content": f"Stream to me {marker}"}]
    full = client.chat.completions.create(model=MODEL, messages=messages)
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_tool_call_then_tool_result(client, fakes, marker):
    messages = [{"role": "user", "content": f"Weather in Paris? {marker}"}]
    resp = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.id.startswith("toolu_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": f"18C {marker}-result"},
    ]
    final = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    assert f"{marker}-result" in final.choices[0].message.content
    body = sent(fakes, f"{marker}-result")
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "example"}}
    ]
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["messages"][2]["content"][0]["tool_use_id"] == call.id


def test_streamed_tool_calls_reassemble(client):
    kwargs = dict(
        model=MODEL, messages=[{"role": "user", "content": "Weather and time?"}],
        tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="required",
    )
    full = client.chat.completions.create(**kwargs)
    calls = {}
    finish = None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        if not chunk.choices:
            continue
        finish = chunk.choices[0].finish_reason or finish
        for d in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(d.index, {"id": d.id, "name": d.function.name, "arguments": ""})
            entry["arguments"] += d.function.arguments or ""
    assert finish == "tool_calls"
    expected = full.choices[0].message.tool_calls
    assert len(calls) == len(expected) == 2
    for index, call in enumerate(expected):
        assert calls[index]["name"] == call.function.name
        assert calls[index]["id"].startswith("toolu_")
        assert json.loads(calls[index]["arguments"]) == json.loads(call.function.arguments)


def test_single_named_tool(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Time? {marker}"}],
        tools=[WEATHER_TOOL, TIME_TOOL], parallel_tool_calls=False,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.function.name for c in resp.choices[0].message.tool_calls] == ["get_time"]
    assert sent(fakes, marker)["tool_choice"] == {
        "type": "tool", "name": "get_time", "disable_parallel_tool_use": True
    }


def test_images_by_data_url_and_http_url(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": f"Describe {marker}"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ]}],
    )
    assert marker in resp.choices[0].message.content
    content = sent(fakes, marker)["messages"][0]["content"]
    assert content[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}}
    assert content[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}


def test_json_schema_is_structured_output(client, fakes, marker):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"A city {marker}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    assert json.loads(resp.choices[0].message.content) == {"city": "example"}
    assert sent(fakes, marker)["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


@pytest.mark.parametrize("param,kwargs", [
    ("temperature", {"temperature": 1.5}),
    ("n", {"n": 2}),
    ("seed", {"seed": 1}),
    ("response_format", {"response_format": {"type": "json_object"}}),
])
def test_unsupported_parameters_are_400s_naming_them(client, param, kwargs):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "json"}], **kwargs)
    assert exc.value.param == param
    assert exc.value.code == "unsupported_parameter"


def test_overloaded_is_a_503(client):
    with pytest.raises(openai.InternalServerError) as exc:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "busy? [[fake status=529]]"}]
        )
    assert exc.value.status_code == 503
    assert exc.value.code == "upstream_overloaded"


def test_rate_limit_keeps_retry_after(client):
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "[[fake status=429 retry_after=5]]"}]
        )
    assert exc.value.response.headers.get("retry-after") == "5"


def test_embeddings_are_refused(client):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model=MODEL, input="hello")


def test_midstream_disconnect_raises_not_hangs(direct_client):
    stream = direct_client.chat.completions.create(
        model=MODEL, stream=True,
        messages=[{"role": "user", "content": "story [[fake words=80 disconnect_after=5]]"}],
    )
    started = time.monotonic()
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert time.monotonic() - started < 20
    assert received and received[0].choices[0].delta.role == "assistant"


def test_langchain_invoke_stream_and_tools(base_url, gateway_key, marker):
    lc = ChatOpenAI(model=MODEL, base_url=base_url, api_key=gateway_key, stream_usage=True,
                    max_retries=0, timeout=30)
    msg = lc.invoke([HumanMessage(content=f"Hello {marker}")])
    assert marker in msg.content
    full = None
    for chunk in lc.stream([HumanMessage(content=f"Hello {marker}")]):
        assert isinstance(chunk, AIMessageChunk)
        full = chunk if full is None else full + chunk
    assert full.content == msg.content
    assert full.usage_metadata["output_tokens"] == msg.usage_metadata["output_tokens"] > 0

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return "sunny"

    called = lc.bind_tools([get_weather]).invoke("Weather in Rome?")
    assert called.tool_calls and called.tool_calls[0]["name"] == "get_weather"
    assert called.tool_calls[0]["args"] == {"city": "example"}
