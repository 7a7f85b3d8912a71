"""Cohere through the gateway with the official Python `openai` SDK: the client speaks OpenAI,
the gateway speaks Cohere v2 (`/v2/chat`, `/v2/embed`) to a Prism proxy validating against
Cohere's published spec, in front of the fake Cohere API."""
import json

import openai
import pytest

from conftest import body_json
from test_openai_sdk import PNG_1PX, TIME_TOOL, WEATHER_TOOL, gateway_meta

MODEL = "cohere/command-a-03-2025"


def test_chat(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": f"Hello {marker}"},
        ],
        temperature=0.2,
        top_p=0.9,
        max_tokens=200,
        seed=3,
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].finish_reason == "stop"
    assert marker in resp.choices[0].message.content
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert gateway_meta(resp)["provider"] == "cohere"
    call = fakes.find_one("cohere", marker)
    assert call["path"] == "/v2/chat"
    assert call["authorization"] == f"Bearer {fakes.keys['cohere']}"
    sent = body_json(call)
    assert sent["model"] == "command-a-03-2025"
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["p"] == 0.9 and sent["max_tokens"] == 200 and sent["seed"] == 3
    assert "top_p" not in sent and "stream" not in sent


def test_stream_with_usage(client, fakes, marker):
    plain = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Count {marker} [[fake words=15]]"}]
    )
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"Count {marker} [[fake words=15]]"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert gateway_meta(chunks[-1])["provider"] == "cohere"
    assert body_json(fakes.find("cohere", marker)[-1])["stream"] is True


def test_tool_call_then_tool_result(client, fakes, marker):
    messages = [{"role": "user", "content": f"Weather in Paris? {marker}"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert "18C and sunny" in second.choices[0].message.content
    sent = body_json(fakes.find("cohere", marker)[-1])
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_streamed_tool_call_arguments_reassemble(client):
    plain = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Time?"}], tools=[TIME_TOOL], tool_choice="required"
    )
    expected = plain.choices[0].message.tool_calls[0]
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Time?"}],
        tools=[TIME_TOOL],
        tool_choice="required",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    ids, names, arguments = [], [], ""
    for chunk in chunks:
        if not chunk.choices or not chunk.choices[0].delta.tool_calls:
            continue
        for delta in chunk.choices[0].delta.tool_calls:
            assert delta.index == 0
            if delta.id:
                ids.append(delta.id)
                names.append(delta.function.name)
            arguments += delta.function.arguments or ""
    assert names == ["get_time"] and len(ids) == 1
    assert arguments == expected.function.arguments
    assert json.loads(arguments)["timezone"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens


def test_named_tool_choice_forces_that_tool(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"Time please {marker}"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert resp.choices[0].message.tool_calls[0].function.name == "get_time"
    sent = body_json(fakes.find_one("cohere", marker))
    assert sent["tool_choice"] == "REQUIRED"
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time"]


def test_image_content_part(client, fakes, marker):
    resp = client.chat.completions.create(
        model="cohere/command-a-vision-07-2025",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"What is this? {marker}"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                ],
            }
        ],
    )
    assert marker in resp.choices[0].message.content
    part = body_json(fakes.find_one("cohere", marker))["messages"][0]["content"][1]
    assert part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}}


def test_response_format_json_schema(direct_client, fakes, marker):
    # Through the gateway straight on the fake: Cohere's published spec cannot validate this
    # request. Its `ResponseFormatV2` is a `oneOf` whose two branches both accept
    # `{"type": "json_object", ...}` (the text branch's `type` enum also lists `json_object`),
    # so Prism, which does not apply the discriminator, reports every JSON-mode request.
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    resp = direct_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"A city as JSON {marker}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}},
    )
    assert isinstance(json.loads(resp.choices[0].message.content)["city"], str)
    sent = body_json(fakes.find_one("cohere", marker))
    assert sent["response_format"] == {"type": "json_object", "json_schema": schema}


def test_logprobs(client):
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "[[fake words=3]]"}], logprobs=True
    )
    tokens = resp.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == resp.choices[0].message.content
    assert all(t.logprob <= 0 for t in tokens)


def test_unsupported_parameter_is_a_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2)
    assert err.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=1.5)
    assert err.value.body["param"] == "temperature"


def test_rate_limit_is_429_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "[[fake status=429 retry_after=2]]"}]
        )
    assert err.value.response.headers["retry-after"] == "2"


def test_midstream_disconnect_raises(direct_client):
    stream = direct_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "[[fake words=40 disconnect_after=5]]"}],
        stream=True,
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_embeddings(client, fakes, marker):
    resp = client.embeddings.create(
        model="cohere/embed-v4.0", input=[f"one {marker}", "two"], dimensions=512, encoding_format="float"
    )
    assert [d.index for d in resp.data] == [0, 1]
    assert len(resp.data[0].embedding) == 512
    assert resp.usage.prompt_tokens > 0
    call = fakes.find_one("cohere", marker)
    assert call["path"] == "/v2/embed"
    assert body_json(call) == {
        "model": "embed-v4.0",
        "input_type": "search_document",
        "texts": [f"one {marker}", "two"],
        "embedding_types": ["float"],
        "output_dimension": 512,
    }
