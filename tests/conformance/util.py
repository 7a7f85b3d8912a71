#!/usr/bin/env python3
"""Small stdlib-only helpers for tests/run.sh (ports, readiness polling, Prism checks).

Subcommands:
  ports N                          print N distinct free loopback TCP ports (one line, spaces)
  wait-http URL TIMEOUT [--pid P]  poll until GET URL answers 200; fail early if process P died
  wait-log FILE REGEX TIMEOUT [--pid P] [--after-bytes N]
                                   poll until FILE (from byte N on) matches REGEX
  post URL JSON [--header 'K: V']  POST a JSON body, print the status code (never fails on 4xx/5xx)
  count FILE REGEX [--before-bytes N] [--after-bytes N]
                                   print how many lines of FILE match REGEX
  size FILE                        print the size of FILE in bytes
  lines FILE REGEX [--after-bytes N] [--before-bytes N] [--max N] [--distinct]
                                   print the matching lines (--distinct: each message once, counted)
  gateway-config OUT KEY PROVIDER=URL... [--comment TEXT] [--upstream-timeout-ms N]
                 [--aws 'NAME=URL[;MODEL=ENDPOINT...]']...
                                   write a gateway TOML for the run (--aws: an AWS provider,
                                   bedrock or sagemaker, at URL with access key id fake-NAME-key;
                                   MODEL=ENDPOINT pairs are SageMaker's endpoints)
"""
import argparse
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request


def alive(pid):
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; look at /proc for its state when we can.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def fake_calls(url):
    """Every request the fake provider at URL received. A fake keeps only its latest calls
    (`llm-gateway fake --keep-calls`); a check that must see them all fails if any were
    dropped rather than pass on part of them."""
    with urllib.request.urlopen(url.rstrip("/") + "/__fake/calls", timeout=30) as r:
        log = json.load(r)
    if log["dropped"]:
        sys.exit(
            f"{url}: the fake provider kept only the latest {len(log['calls'])} of "
            f"{len(log['calls']) + log['dropped']} calls; start it with a larger --keep-calls"
        )
    return log["calls"]


def cmd_ports(a):
    socks = []
    try:
        for _ in range(a.n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def cmd_wait_http(a):
    deadline = time.monotonic() + a.timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not alive(a.pid):
            sys.exit(f"wait-http {a.url}: process {a.pid} exited before it was ready")
        try:
            with urllib.request.urlopen(a.url, timeout=2) as r:
                if r.status == 200:
                    return
                last = f"status {r.status}"
        except urllib.error.HTTPError as e:
            last = f"status {e.code}"
        except Exception as e:  # connection refused while starting, etc.
            last = repr(e)
        time.sleep(0.2)
    sys.exit(f"wait-http {a.url}: not ready after {a.timeout}s ({last})")


def read_from(path, after=0, before=None):
    try:
        with open(path, "rb") as f:
            f.seek(after)
            data = f.read() if before is None else f.read(max(0, before - after))
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", "replace")


def cmd_wait_log(a):
    rx = re.compile(a.regex)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if rx.search(read_from(a.file, a.after_bytes)):
            return
        if not alive(a.pid):
            sys.exit(f"wait-log {a.file}: process {a.pid} exited before /{a.regex}/ appeared")
        time.sleep(0.2)
    sys.exit(f"wait-log {a.file}: /{a.regex}/ did not appear within {a.timeout}s")


def cmd_post(a):
    headers = {"content-type": "application/json"}
    for h in a.header or []:
        k, v = h.split(":", 1)
        headers[k.strip()] = v.strip()
    req = urllib.request.Request(a.url, data=a.json.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            print(r.status)
    except urllib.error.HTTPError as e:
        print(e.code)


def records(a):
    # Prism's log can glue a message to the next line without a newline; split on the
    # log-line prefix as well as on newlines so each record counts once.
    text = read_from(a.file, a.after_bytes, a.before_bytes)
    return re.split(r"\n|(?=\[\d{1,2}:\d{2}:\d{2}(?: [AP]M)?\] ›)", text)


def matching_lines(a, with_request=False):
    """Matching records; with_request: each as (the request it belongs to, record)."""
    rx = re.compile(a.regex)
    current = "?"
    out = []
    for rec in records(a):
        m = re.search(r"\[HTTP SERVER\] (\w+) (\S+)", rec)
        if m:
            current = f"{m.group(1).upper()} {m.group(2)}"
        if rx.search(rec):
            out.append((current, rec) if with_request else rec)
    return out


def cmd_count(a):
    print(len(matching_lines(a)))


def cmd_lines(a):
    if not a.distinct:
        for ln in matching_lines(a)[: a.max]:
            print(ln.strip())
        return
    # Each message once, counted, with the request it was logged for; without Prism's
    # "[time] ›     [VALIDATOR] ✖  error" prefix.
    counts = {}
    for request, rec in matching_lines(a, with_request=True):
        msg = re.sub(r"^.*?\[VALIDATOR\]\s*\S+\s*", "", rec.strip())
        counts[(request, msg)] = counts.get((request, msg), 0) + 1
    for (request, msg), n in sorted(counts.items(), key=lambda kv: -kv[1])[: a.max]:
        print(f"{n:3d}x {request}: {msg}")


def cmd_size(a):
    try:
        print(os.path.getsize(a.file))
    except FileNotFoundError:
        print(0)


def cmd_gateway_config(a):
    upstream = ""
    if a.upstream_timeout_ms:
        t = a.upstream_timeout_ms
        upstream = (
            f"[upstream]\nrequest_timeout_ms = {t}\nfirst_chunk_timeout_ms = {t}\nidle_timeout_ms = {t}\n\n"
        )
    text = f"""# Generated by tests/run.sh for one test run: {a.comment}
[server]
max_body_bytes = 4194304

[[auth.keys]]
name = "tests"
secret = "{a.key}"

{upstream}"""
    for spec in a.providers:
        name, url = spec.split("=", 1)
        text += f'[providers.{name}]\nbase_url = "{url}"\napi_key = "fake-{name}-key"\n\n'
    for spec in a.aws:
        name, rest = spec.split("=", 1)
        url, *pairs = rest.split(";")
        text += (
            f'[providers.{name}]\nregion = "us-east-1"\nbase_url = "{url}"\n'
            f'access_key_id = "fake-{name}-key"\nsecret_access_key = "fake-{name}-secret"\n'
        )
        if pairs:
            endpoints = ", ".join(f'"{m}" = "{e}"' for m, e in (p.split("=", 1) for p in pairs))
            text += f"endpoints = {{ {endpoints} }}\n"
        text += "\n"
    with open(a.out, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ports"); s.add_argument("n", type=int); s.set_defaults(f=cmd_ports)
    s = sub.add_parser("wait-http"); s.add_argument("url"); s.add_argument("timeout", type=float)
    s.add_argument("--pid", type=int); s.set_defaults(f=cmd_wait_http)
    s = sub.add_parser("wait-log"); s.add_argument("file"); s.add_argument("regex")
    s.add_argument("timeout", type=float); s.add_argument("--pid", type=int)
    s.add_argument("--after-bytes", type=int, default=0); s.set_defaults(f=cmd_wait_log)
    s = sub.add_parser("post"); s.add_argument("url"); s.add_argument("json")
    s.add_argument("--header", action="append"); s.set_defaults(f=cmd_post)
    for name, fn in (("count", cmd_count), ("lines", cmd_lines)):
        s = sub.add_parser(name); s.add_argument("file"); s.add_argument("regex")
        s.add_argument("--after-bytes", type=int, default=0)
        s.add_argument("--before-bytes", type=int, default=None)
        s.add_argument("--max", type=int, default=50); s.add_argument("--distinct", action="store_true")
        s.set_defaults(f=fn)
    s = sub.add_parser("size"); s.add_argument("file"); s.set_defaults(f=cmd_size)
    s = sub.add_parser("gateway-config")
    s.add_argument("out"); s.add_argument("key")
    s.add_argument("providers", nargs="*", metavar="PROVIDER=URL")
    s.add_argument("--comment", default="upstreams are the fake providers")
    s.add_argument("--upstream-timeout-ms", type=int, default=0)
    s.add_argument("--aws", action="append", default=[], metavar="NAME=URL[;MODEL=ENDPOINT...]")
    s.set_defaults(f=cmd_gateway_config)
    a = p.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
