"""Routing hints and fallback chains through the official Python SDK, in both forms: the
documented body fields (`extra_body`) and the JSON headers of the same names (`extra_headers`),
for clients that cannot add body fields."""
import json

import openai
import pytest


def gateway_meta(obj):
    extra = obj.model_extra or {}
    assert "x-llm-gateway" in extra, f"no x-llm-gateway field in {obj.model_dump()}"
    return extra["x-llm-gateway"]


def hello(marker):
    return [{"role": "user", "content": f"Hello {marker}"}]


def test_hints_in_the_body_steer_auto(client, fakes, marker):
    resp = client.chat.completions.create(
        model="auto",
        messages=hello(marker),
        extra_body={"x-routing-hints": {"priority": "quality", "prefer_providers": ["gemini"]}},
    )
    meta = gateway_meta(resp)
    assert meta["routing_decision"] == "quality_optimized"
    assert meta["model"] == "gemini/gemini-2.5-pro"
    assert meta["routing"]["winner"] == "gemini/gemini-2.5-pro"
    assert meta["routing"]["candidates_evaluated"] == len(meta["routing"]["candidates"])
    assert meta["fallback"] == {"used": False, "attempts": []}
    call = fakes.find_one("gemini", marker)
    assert "x-routing-hints" not in json.dumps(call.get("body"))


def test_hints_in_a_header_steer_auto(client, marker):
    resp = client.chat.completions.create(
        model="auto",
        messages=hello(marker),
        extra_headers={"x-routing-hints": json.dumps({"prefer_providers": ["mistral"]})},
    )
    meta = gateway_meta(resp)
    assert meta["routing_decision"] == "cost_optimized"
    assert meta["model"] == "mistral/mistral-small-latest"


@pytest.mark.parametrize("form", ["body", "header"])
def test_a_malformed_hint_is_a_400_naming_it(client, form):
    hints = {"priority": "fastest"}
    extra = (
        {"extra_body": {"x-routing-hints": hints}}
        if form == "body"
        else {"extra_headers": {"x-routing-hints": json.dumps(hints)}}
    )
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="auto", messages=hello("x"), **extra)
    assert exc.value.body["param"] == "x-routing-hints.priority"


@pytest.mark.parametrize(
    "form, fallback",
    [("body", "groq/llama-3.1-8b-instant"), ("header", "mistral/mistral-small-latest")],
)
def test_the_fallback_chain_is_followed_in_either_form(client, fakes, marker, form, fallback):
    # Every fake fails this prompt, so the request ends in an error after trying the chain.
    messages = [{"role": "user", "content": f"[[fake status=503]] {marker}"}]
    extra = (
        {"extra_body": {"x-fallback-chain": [fallback]}}
        if form == "body"
        else {"extra_headers": {"x-fallback-chain": json.dumps([fallback])}}
    )
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=messages, **extra)
    assert exc.value.status_code in (502, 503)
    assert "fallback=true" in exc.value.response.headers["x-llm-gateway"]
    fakes.find_one("openai", marker)
    call = fakes.find_one(fallback.split("/")[0], marker)
    assert "x-fallback-chain" not in json.dumps(call.get("body"))
