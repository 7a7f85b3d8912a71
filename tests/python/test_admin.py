"""One admin flow from the outside, with the CLI and httpx as an operator's script would: a
gateway of its own (started here on the fake OpenAI provider, SQLite in a temporary folder),
`llm-gateway org create` and `member create` for the first admin token, then over
/admin/v1: create a key, call /v1 with it through the OpenAI SDK, find the request in the
log and its receipt, revoke the key, and export the audit log as CSV."""
import csv
import io
import os
import subprocess
import tempfile
import threading
import time

import httpx
import openai
import pytest

from conftest import env


@pytest.fixture(scope="module")
def gateway():
    binary = env("LLM_GATEWAY_BIN")
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "gateway.toml")
        with open(config, "w") as f:
            f.write(
                "[auth]\nkey_cache_secs = 1\n\n"
                f'[providers.openai]\nbase_url = "{env("FAKE_OPENAI_URL")}"\n'
                f'api_key = "{env("FAKE_OPENAI_KEY")}"\n'
            )
        cli = [binary, "--data-dir", tmp, "--config", config]
        subprocess.run(cli + ["org", "create", "--name", "acme", "--plan", "pro"], check=True, capture_output=True)
        created = subprocess.run(
            cli + ["member", "create", "--org", "acme", "--email", "ops@example.com", "--role", "owner"],
            check=True, capture_output=True, text=True,
        ).stdout
        token = next(line.split()[-1] for line in created.splitlines() if line.startswith("admin token: "))
        process = subprocess.Popen(
            cli + ["serve", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            url = None
            for line in process.stdout:
                if line.startswith("LLM Gateway listening on "):
                    url = line.split()[-1]
                    break
            assert url, "the gateway did not start"
            threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
            yield url, token
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_an_operator_creates_a_key_uses_it_finds_the_request_revokes_it_and_exports_the_audit(gateway):
    url, token = gateway
    admin = httpx.Client(base_url=url + "/admin/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    me = admin.get("/me").raise_for_status().json()
    org = me["org_id"]
    assert me["role"] == "owner"

    created = admin.post(f"/orgs/{org}/keys", json={"name": "ci", "environment": "prod"})
    assert created.status_code == 201, created.text
    secret, key_id = created.json()["secret"], created.json()["key"]["id"]

    client = openai.OpenAI(api_key=secret, base_url=url + "/v1", max_retries=0)
    answer = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    request_id = answer.headers["x-request-id"]
    assert answer.parse().choices[0].message.content

    receipt = admin.get(f"/orgs/{org}/receipts/{request_id}").raise_for_status().json()
    assert receipt["request_id"] == request_id and receipt["model"] == "openai/gpt-4o"
    log = admin.get(f"/orgs/{org}/logs", params={"key_id": key_id}).raise_for_status().json()
    assert [entry["request_id"] for entry in log["data"]] == [request_id]

    admin.post(f"/orgs/{org}/keys/{key_id}/revoke").raise_for_status()
    time.sleep(1.2)  # key_cache_secs = 1
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "api_key_revoked"

    export = admin.get(f"/orgs/{org}/audit/export", params={"format": "csv"})
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    actions = {(row["action"], row["target"]) for row in rows}
    assert ("key.create", key_id) in actions and ("key.revoke", key_id) in actions
    assert all(row["actor"] == me["user_id"] for row in rows if row["action"].startswith("key."))

    forbidden = httpx.get(f"{url}/admin/v1/orgs/{org}/keys", headers={"Authorization": "Bearer llm_gw_admin_nope"})
    assert forbidden.status_code == 401
    assert forbidden.json()["error"]["code"] == "invalid_admin_token"
