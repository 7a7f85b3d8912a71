"""LangChain (ChatOpenAI) and LlamaIndex (OpenAILike) pointed at the gateway."""
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai_like import OpenAILike


@pytest.fixture
def lc(base_url, gateway_key):
    # stream_usage=True: LangChain sends stream_options.include_usage only then (custom base URL).
    return ChatOpenAI(
        model="openai/gpt-4o-mini", base_url=base_url, api_key=gateway_key,
        stream_usage=True, max_retries=0, timeout=30,
    )


def check_usage(usage):
    assert usage is not None, "no usage_metadata"
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_langchain_invoke(lc, marker):
    msg = lc.invoke([HumanMessage(content=f"Hello from LangChain {marker}")])
    assert "simulated reply" in msg.content and marker in msg.content
    check_usage(msg.usage_metadata)
    assert msg.response_metadata.get("finish_reason") == "stop"


def test_langchain_stream(lc, marker):
    prompt = [HumanMessage(content=f"Stream from LangChain {marker}")]
    full = None
    for chunk in lc.stream(prompt):
        assert isinstance(chunk, AIMessageChunk)
        full = chunk if full is None else full + chunk
    assert full is not None
    assert full.content == lc.invoke(prompt).content
    check_usage(full.usage_metadata)


def test_langchain_tool_binding(lc):
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return "sunny"

    msg = lc.bind_tools([get_weather]).invoke("Weather in Rome?")
    assert msg.tool_calls and msg.tool_calls[0]["name"] == "get_weather"
    assert isinstance(msg.tool_calls[0]["args"], dict)


@pytest.fixture
def li(base_url, gateway_key):
    return OpenAILike(
        model="groq/llama-3.3-70b-versatile", api_base=base_url, api_key=gateway_key,
        is_chat_model=True, max_retries=0, timeout=30,
    )


def test_llamaindex_chat(li, marker):
    resp = li.chat([ChatMessage(role="user", content=f"Hello from LlamaIndex {marker}")])
    assert "simulated reply" in resp.message.content and marker in resp.message.content


def test_llamaindex_stream_chat(li, marker):
    messages = [ChatMessage(role="user", content=f"Stream from LlamaIndex {marker}")]
    last = None
    deltas = []
    for part in li.stream_chat(messages):
        deltas.append(part.delta or "")
        last = part
    assert last is not None and len(deltas) > 1
    assert "".join(deltas) == last.message.content
    assert last.message.content == li.chat(messages).message.content


def test_llamaindex_auto_model(base_url, gateway_key):
    llm = OpenAILike(model="auto", api_base=base_url, api_key=gateway_key, is_chat_model=True, max_retries=0)
    resp = llm.chat([ChatMessage(role="user", content="hi")])
    assert "simulated reply" in resp.message.content
