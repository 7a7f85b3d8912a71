"""Shared fixtures for the Python client suites.

tests/run.sh starts the stand-ins and exports their addresses:
  GATEWAY_URL         the gateway under test; its upstreams are Prism proxies (validating
                      against each provider's spec) in front of the fake providers
  GATEWAY_DIRECT_URL  a second gateway straight on the fakes, for fault injection and
                      stream timing (Prism buffers whole responses and hangs when an
                      upstream drops a stream mid-way)
  GATEWAY_KEY, FAKE_{OPENAI,GROQ,TOGETHER,MISTRAL,ANTHROPIC,COHERE,GEMINI,BEDROCK,SAGEMAKER}_URL,
  FAKE_*_KEY          (the AWS fakes are reached directly: no Prism for their protocols)
A missing variable is an error, never a skip.
"""
import os
import time
import uuid

import httpx
import openai
import pytest

PROVIDERS = (
    "openai", "groq", "together", "mistral", "anthropic", "cohere", "gemini", "bedrock", "sagemaker",
)

# One chat model per provider, addressed the way clients address them.
CHAT_MODELS = {
    "openai": "openai/gpt-4o",
    "groq": "groq/llama-3.1-8b-instant",
    "together": "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "mistral": "mistral/mistral-small-latest",
    "anthropic": "anthropic/claude-sonnet-4-6",
    "cohere": "cohere/command-a-03-2025",
    "gemini": "gemini/gemini-2.5-flash",
    "bedrock": "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
    "sagemaker": "sagemaker/llama-3-8b",
}
EMBED_MODELS = {
    "openai": "openai/text-embedding-3-small",
    "mistral": "mistral/mistral-embed",
    "cohere": "cohere/embed-v4.0",
    "gemini": "gemini/gemini-embedding-001",
    "bedrock": "bedrock/amazon.titan-embed-text-v2:0",
}
# The upstream path of a chat call, where it is not OpenAI's `/chat/completions`.
CHAT_PATHS = {
    "anthropic": "/v1/messages",
    "cohere": "/v2/chat",
}


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through ./tests/run.sh")
    return value


@pytest.fixture(scope="session")
def gateway_url():
    return env("GATEWAY_URL").rstrip("/")


@pytest.fixture(scope="session")
def gateway_key():
    return env("GATEWAY_KEY")


@pytest.fixture(scope="session")
def base_url(gateway_url):
    return gateway_url + "/v1"


@pytest.fixture(scope="session")
def client(base_url, gateway_key):
    # No retries: a 429/5xx must surface as the error the gateway returned.
    return openai.OpenAI(base_url=base_url, api_key=gateway_key, max_retries=0, timeout=30)


@pytest.fixture(scope="session")
def direct_url():
    return env("GATEWAY_DIRECT_URL").rstrip("/")


@pytest.fixture(scope="session")
def direct_client(direct_url, gateway_key):
    return openai.OpenAI(base_url=direct_url + "/v1", api_key=gateway_key, max_retries=0, timeout=30)


@pytest.fixture(scope="session")
def direct_http(direct_url):
    with httpx.Client(base_url=direct_url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def http(gateway_url):
    with httpx.Client(base_url=gateway_url, timeout=30) as c:
        yield c


class Fakes:
    """Reads what each fake provider received (GET /__fake/calls)."""

    def __init__(self):
        self.urls = {p: env(f"FAKE_{p.upper()}_URL").rstrip("/") for p in PROVIDERS}
        self.keys = {p: env(f"FAKE_{p.upper()}_KEY") for p in PROVIDERS}

    def calls(self, provider):
        r = httpx.get(self.urls[provider] + "/__fake/calls", timeout=10)
        r.raise_for_status()
        return r.json()["calls"]

    def find(self, provider, marker, wait=2.0):
        """Calls whose request body mentions `marker` (a per-test unique string)."""
        deadline = time.monotonic() + wait
        while True:
            found = [c for c in self.calls(provider) if marker in _text(c.get("body"))]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def find_one(self, provider, marker):
        found = self.find(provider, marker)
        assert len(found) == 1, (
            f"expected exactly one upstream call to {provider} carrying {marker!r}, got {len(found)}"
        )
        return found[0]


def _text(body):
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    import json

    return json.dumps(body)


def body_json(call):
    """The JSON body of a recorded upstream call."""
    import json

    body = call.get("body")
    return json.loads(body) if isinstance(body, str) else body


@pytest.fixture(scope="session")
def fakes():
    return Fakes()


@pytest.fixture
def marker():
    """A unique string to put in a prompt, to find this test's upstream call."""
    return "mark-" + uuid.uuid4().hex[:12]
