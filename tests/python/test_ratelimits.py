"""The gateway's own rate limiter seen through the OpenAI Python SDK: a gateway limited to two
requests a minute (started here, on the fake OpenAI provider) answers with X-RateLimit-*
headers, then a 429 that the SDK raises as RateLimitError, carrying Retry-After."""
import os
import subprocess
import tempfile
import threading

import openai
import pytest

from conftest import env

KEY = "llm_gw_dev_" + "5a" * 32


@pytest.fixture(scope="module")
def limited_url():
    binary = env("LLM_GATEWAY_BIN")
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "gateway.toml")
        with open(config, "w") as f:
            f.write(
                f'[[auth.keys]]\nname = "limited"\nsecret = "{KEY}"\n\n'
                "[limits]\nrequests_per_minute = 2\n\n"
                f'[providers.openai]\nbase_url = "{env("FAKE_OPENAI_URL")}"\n'
                f'api_key = "{env("FAKE_OPENAI_KEY")}"\n'
            )
        process = subprocess.Popen(
            [binary, "--data-dir", tmp, "serve", "--config", config, "--bind", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            url = None
            for line in process.stdout:
                if line.startswith("LLM Gateway listening on "):
                    url = line.split()[-1]
                    break
            assert url, "the limited gateway did not start"
            # Keep draining its output so it never blocks on a full pipe.
            threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_limit_headers_then_a_429_with_retry_after(limited_url):
    client = openai.OpenAI(api_key=KEY, base_url=limited_url + "/v1", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    first = client.chat.completions.with_raw_response.create(model="openai/gpt-4o", messages=messages)
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert 1 <= int(first.headers["x-ratelimit-reset"]) <= 60
    assert first.parse().choices[0].message.content
    client.chat.completions.create(model="openai/gpt-4o", messages=messages)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="openai/gpt-4o", messages=messages)
    response = refused.value.response
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert refused.value.code == "rate_limit_exceeded"
