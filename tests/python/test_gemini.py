"""The official Python `openai` SDK against Gemini models: the gateway speaks Gemini's own API
(generateContent, streamGenerateContent, embedContent) and the client sees OpenAI's shapes.

Non-streamed calls go through the gateway whose upstream is a Prism proxy validating against
Google's published spec. Prism's proxy drops the SSE body of streamGenerateContent (its spec
declares that operation JSON-only), so streamed answers are read through the gateway that
calls the fake directly; the stream request itself is still validated by Prism
(`test_stream_request_passes_prism`).
"""
import json

import openai
import pytest

from conftest import body_json

MODEL = "gemini/gemini-2.5-flash"
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


def test_chat_translates_system_and_generation_config(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": f"Hello {marker}"},
        ],
        temperature=0.5,
        top_p=0.9,
        max_completion_tokens=60,
        stop=["END"],
        seed=11,
        presence_penalty=0.1,
        frequency_penalty=0.2,
    )
    assert marker in resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    sent = body_json(fakes.find_one("gemini", marker))
    assert sent["systemInstruction"] == {"parts": [{"text": "Answer briefly."}]}
    assert sent["generationConfig"] == {
        "temperature": 0.5, "topP": 0.9, "maxOutputTokens": 60, "stopSequences": ["END"],
        "seed": 11, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
    }


def test_stream_has_role_first_and_full_usage(direct_client, marker):
    stream = direct_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"Stream {marker}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert marker in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage.completion_tokens == len(text.split())


def test_stream_request_passes_prism(client, fakes, marker):
    try:
        for _ in client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"Validate {marker}"}], stream=True
        ):
            pass
    except openai.APIError:
        pass  # Prism returned the stream without its body; only the request is checked here.
    call = fakes.find_one("gemini", marker)
    assert call["path"].endswith(":streamGenerateContent")
    assert body_json(call)["contents"][0]["parts"][0]["text"].startswith("Validate")


def test_tool_call_round_trip(client, fakes, marker):
    messages = [{"role": "user", "content": f"Weather in Paris? {marker}"}]
    resp = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)
    sent = body_json(fakes.find_one("gemini", marker))
    assert sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == WEATHER_TOOL["function"]["parameters"]
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 21})}]
    final = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert "temp_c" in final.choices[0].message.content
    assert final.choices[0].finish_reason == "stop"
    # The thinking model's signature rode in the call id and went back with the call.
    assert "__thought__" in call.id
    sent = body_json(fakes.find("gemini", marker)[-1])
    assert sent["contents"][1]["parts"][0]["thoughtSignature"] == call.id.split("__thought__", 1)[1]


def test_streamed_tool_call_matches_the_unstreamed_one(client, direct_client, marker):
    messages = [{"role": "user", "content": f"Weather? {marker}"}]
    whole = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    expected = whole.choices[0].message.tool_calls[0]
    chunks = list(direct_client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL], stream=True
    ))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == expected.id and deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas) == expected.function.arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_forced_tool_choice_becomes_any_with_allowed_names(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"Go {marker}"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert resp.choices[0].message.tool_calls[0].function.name == "get_weather"
    sent = body_json(fakes.find_one("gemini", marker))
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}


def test_image_parts(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": f"Describe {marker}"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/photo.webp"}},
        ]}],
    )
    assert resp.choices[0].message.content
    parts = body_json(fakes.find_one("gemini", marker))["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}}
    assert parts[2] == {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/photo.webp"}}


def test_json_schema_response_format(client, fakes, marker):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"JSON please {marker}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert "answer" in json.loads(resp.choices[0].message.content)
    config = body_json(fakes.find_one("gemini", marker))["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


def test_n_and_logprobs(client, fakes, marker):
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Two {marker}"}], n=2, logprobs=True, top_logprobs=2
    )
    assert [c.index for c in resp.choices] == [0, 1]
    assert resp.choices[0].logprobs.content[0].top_logprobs
    config = body_json(fakes.find_one("gemini", marker))["generationConfig"]
    assert config == {"candidateCount": 2, "responseLogprobs": True, "logprobs": 2}


def test_unsupported_parameter_is_a_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], logit_bias={"1": 5}
        )
    assert e.value.body["param"] == "logit_bias"


def test_resource_exhausted_is_a_429_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "[[fake status=429 retry_after=4]]"}]
        )
    assert e.value.response.headers["retry-after"] == "4"


def test_unavailable_is_a_503(client):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "[[fake status=503]]"}]
        )
    assert e.value.status_code == 503


def test_embeddings_single_and_batch(client, fakes, marker):
    one = client.embeddings.create(
        model="gemini/gemini-embedding-001", input=f"one {marker}", dimensions=16, encoding_format="float"
    )
    assert len(one.data[0].embedding) == 16 and one.usage.prompt_tokens > 0
    assert body_json(fakes.find_one("gemini", marker))["outputDimensionality"] == 16
    many = client.embeddings.create(model="gemini/gemini-embedding-001", input=["a", "b", "c"])
    assert [d.index for d in many.data] == [0, 1, 2]
