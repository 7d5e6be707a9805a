"""The teacher simulator, over real HTTP on 127.0.0.1 with the official SDKs and httpx2."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from distill.errors import ConfigError
from distill.records import Task
from distill.sim import (
    SimConfig,
    TeacherSim,
    add_sim_arguments,
    config_from_args,
    running_sim,
    sim_process,
)
from distill.sim.answers import TaskIndex, generate_answer, ours_only, wrong_math_answer

MATH_PROMPT = "What is 6 times 7?"
CONFLICT = (
    "a = 1\n<<<<<<< ours\nb = 2\n||||||| base\nb = 0\n=======\nc = 3\n>>>>>>> theirs\nd = 4\n"
)
TASKS = [
    {"id": "m1", "kind": "math", "prompt": MATH_PROMPT, "reference": {"answer": "42"}},
    {
        "id": "c1",
        "kind": "code",
        "prompt": "Print the sum of two integers.",
        "reference": {
            "tests": {
                "public": [{"input": "1 2\n", "output": "3\n"}],
                "hidden": [{"input": "5 5\n", "output": "10\n"}],
            },
            "solution": "a, b = map(int, input().split())\nprint(a + b)\n",
        },
        "meta": {"language": "python"},
    },
    {
        "id": "g1",
        "kind": "merge",
        "prompt": CONFLICT,
        "reference": {
            "conflict": CONFLICT,
            "resolution": "a = 1\nb = 2\nc = 3\nd = 4\n",
            "language": "python",
        },
    },
    {"id": "h1", "kind": "chat", "prompt": "Say hello.", "reference": {"output": "Hello there!"}},
]


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sim") / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    return str(path)


@pytest.fixture(scope="module")
def url(task_file: str) -> Iterator[str]:
    with running_sim(SimConfig(seed=1, task_files=(task_file,))) as base:
        yield base


_HTTP = httpx2.Client(timeout=10.0)  # one keep-alive pool: a client per call costs ~50 ms


def chat(
    base: str, content: str, *, model: str = "sim-r1", index: int = 0, **extra: Any
) -> httpx2.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return _HTTP.post(
        base + "/chat/completions", json=body, headers={"x-distill-sample-index": str(index)}
    )


_SDK_CLIENTS: list[openai.OpenAI | anthropic.Anthropic] = []


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for client in _SDK_CLIENTS:
        client.close()
    _HTTP.close()


def oa(base: str, key: str = "sk-test") -> openai.OpenAI:
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    _SDK_CLIENTS.append(client)
    return client


def an(base: str, key: str = "sk-test") -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=base.removesuffix("/v1"), api_key=key, max_retries=0)
    _SDK_CLIENTS.append(client)
    return client


# --- wire formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["sim-r1", "sim-vllm", "sim-think", "sim-think-noopen", "sim-plain"]
)
def test_openai_reasoning_placement(url: str, model: str) -> None:
    resp = oa(url).chat.completions.create(
        model=model, messages=[{"role": "user", "content": MATH_PROMPT}]
    )
    msg = resp.choices[0].message
    extra = msg.model_extra or {}
    assert resp.object == "chat.completion" and resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens >= 1
    content = msg.content or ""
    assert "\\boxed{" in content
    reasoning_tokens = resp.usage.completion_tokens_details.reasoning_tokens  # type: ignore[union-attr]
    if model == "sim-r1":
        assert "6 times 7" in extra["reasoning_content"] and "<think>" not in content
    elif model == "sim-vllm":
        assert "6 times 7" in extra["reasoning"] and "reasoning_content" not in extra
    elif model == "sim-think":
        assert re.match(r"<think>\n.+\n</think>\n\n", content, re.S)
    elif model == "sim-think-noopen":
        assert "</think>\n\n" in content and not content.startswith("<think>")
    else:
        assert "think" not in content and not extra.get("reasoning_content")
        assert reasoning_tokens == 0
    if model != "sim-plain":
        assert reasoning_tokens and reasoning_tokens > 20


@pytest.mark.parametrize("model", ["sim-claude", "sim-claude-redacted"])
def test_anthropic_thinking_blocks(url: str, model: str) -> None:
    msg = an(url).messages.create(
        model=model,
        max_tokens=4000,
        system=[{"type": "text", "text": "Be brief."}],
        thinking={"type": "enabled", "budget_tokens": 2000},
        messages=[{"role": "user", "content": [{"type": "text", "text": MATH_PROMPT}]}],
    )
    assert msg.stop_reason == "end_turn" and msg.usage.input_tokens >= 4
    first, last = msg.content[0], msg.content[-1]
    if "redacted" in model:
        assert first.type == "redacted_thinking" and first.data
    else:
        assert first.type == "thinking" and "6 times 7" in first.thinking and first.signature
    assert last.type == "text" and "\\boxed{" in last.text
    plain = an(url).messages.create(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert [b.type for b in plain.content] == ["text"]
    assert isinstance(plain.content[0], anthropic.types.TextBlock)
    assert plain.content[0].text == "Hello there!"


def test_max_tokens_cuts_the_answer(url: str) -> None:
    client = oa(url)
    resp = client.chat.completions.create(
        model="sim-r1", max_tokens=10, messages=[{"role": "user", "content": MATH_PROMPT}]
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage is not None and resp.usage.completion_tokens == 10
    assert resp.choices[0].message.content == ""
    msg = an(url).messages.create(
        model="sim-claude", max_tokens=5, messages=[{"role": "user", "content": MATH_PROMPT}]
    )
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 5


def test_other_routes(url: str) -> None:
    assert _HTTP.get(url + "/models").json()["data"][0]["id"] == "sim-r1"
    assert _HTTP.get(url.removesuffix("/v1") + "/health").json() == {"status": "ok"}
    missing = _HTTP.get(url + "/nowhere")
    assert missing.status_code == 404 and "error" in missing.json()
    assert chat(url, "x").status_code == 200
    bad = _HTTP.post(url + "/chat/completions", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


# --- answers ----------------------------------------------------------------------------------


def answer_of(resp: httpx2.Response) -> str:
    return str(resp.json()["choices"][0]["message"]["content"])


def test_same_request_same_answer_and_index_varies(url: str) -> None:
    wrapped = f"Solve the problem.\n\n{MATH_PROMPT}\n\nPut the answer in a box."
    assert answer_of(chat(url, wrapped, index=3)) == answer_of(chat(url, wrapped, index=3))
    answers = {answer_of(chat(url, wrapped, index=i)) for i in range(12)}
    assert len(answers) > 1 and any("\\boxed{42}" in a for a in answers)  # substring match


@pytest.mark.parametrize("p_correct", [1.0, 0.0])
def test_p_correct_decides_math(task_file: str, p_correct: float) -> None:
    with running_sim(SimConfig(p_correct=p_correct, task_files=(task_file,))) as base:
        boxed = [
            re.findall(r"\\boxed\{(.*?)\}", answer_of(chat(base, MATH_PROMPT, index=i)))
            for i in range(10)
        ]
    assert all(len(b) == 1 for b in boxed)
    assert all((b[0] == "42") == (p_correct == 1.0) for b in boxed)


def test_wrong_answers_are_plausible() -> None:
    index = TaskIndex([Task(**t) for t in TASKS])  # type: ignore[arg-type]
    code, merge = index.match("Print the sum of two integers."), index.match(CONFLICT)
    assert code is not None and merge is not None
    programs = set()
    for i in range(30):
        ans = generate_answer("Print the sum of two integers.", code, i, 0, 0.0)
        program = re.findall(r"```python\n(.*?)```", ans.content, re.S)
        assert len(program) == 1 and not ans.correct
        compile(program[0], "<answer>", "exec")
        programs.add(program[0])
        assert 100 <= len(ans.reasoning.split()) <= 300
    assert any("'3\\n'" in p for p in programs) and any("for _ in range" in p for p in programs)
    wrong = {generate_answer(CONFLICT, merge, i, 0, 0.0).content for i in range(20)}
    assert any("<<<<<<<" in w for w in wrong) and any("b = 2\nd = 4" in w for w in wrong)
    assert ours_only(CONFLICT) == "a = 1\nb = 2\nd = 4"
    right = generate_answer(CONFLICT, merge, 0, 0, 1.0).content
    assert "```python\na = 1\nb = 2\nc = 3\nd = 4\n```" in right
    assert wrong_math_answer("42", __import__("random").Random(1)) in {
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
    }
    assert wrong_math_answer("3/4", __import__("random").Random(1)).endswith("/4")
    assert wrong_math_answer("x^2", __import__("random").Random(1)) == "x^2+1"
    generic = generate_answer("Tell me about otters please.", None, 0, 0, 0.0)
    assert generic.correct and "Tell me about otters" in generic.content


def test_bundled_examples_load_by_default() -> None:
    index = TaskIndex.load()
    if len(index) == 0:
        pytest.skip("no bundled example tasks in this checkout yet")
    assert len(index) >= 4


# --- limits, auth, faults ---------------------------------------------------------------------


def test_rate_limit_429_with_headers() -> None:
    with running_sim(SimConfig(rpm=1, tpm=100_000)) as base:
        first = chat(base, "hi")
        second = chat(base, "hi")
        claude = _HTTP.post(
            base + "/messages",
            json={"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        )
        stats = _HTTP.get(base + "/stats").json()
    assert first.status_code == 200 and first.headers["x-ratelimit-limit-requests"] == "1"
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1 and int(second.headers["retry-after-ms"]) > 0
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert second.headers["x-ratelimit-reset-requests"].endswith("s")
    assert "x-ratelimit-remaining-tokens" in second.headers
    assert second.json()["error"]["code"] == "rate_limit_exceeded"
    assert claude.status_code == 429 and claude.json()["error"]["type"] == "rate_limit_error"
    assert claude.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert stats["rate_limited"] == 2 and stats["by_status"] == {"200": 1, "429": 2}
    with running_sim(SimConfig(rpm=1)) as base, pytest.raises(openai.RateLimitError):
        oa(base).chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
        oa(base).chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])


def test_api_key_and_status_override() -> None:
    with running_sim(SimConfig(api_key="sk-right")) as base:
        with pytest.raises(openai.AuthenticationError):
            oa(base, "sk-wrong").chat.completions.create(
                model="m", messages=[{"role": "user", "content": "a"}]
            )
        with pytest.raises(anthropic.AuthenticationError):
            an(base, "sk-wrong").messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "a"}]
            )
        assert (
            oa(base, "sk-right")
            .chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
            .choices
        )
        assert (
            an(base, "sk-right")
            .messages.create(model="m", max_tokens=50, messages=[{"role": "user", "content": "a"}])
            .content
        )
    with running_sim(SimConfig(status_override=402)) as base:
        resp = chat(base, "a")
        assert resp.status_code == 402 and resp.json()["error"]["message"]
        with pytest.raises(anthropic.APIStatusError) as info:
            an(base).messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "a"}]
            )
        assert info.value.status_code == 402


@pytest.mark.parametrize("fault", ["drop", "truncated", "malformed", "stall", "5xx"])
def test_each_fault_kind(fault: str) -> None:
    config = SimConfig(**{f"fault_{fault}": 1.0}, stall_s=2.0)  # type: ignore[arg-type]
    with running_sim(config) as base:
        client = httpx2.Client(timeout=0.5)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        if fault == "drop":
            with pytest.raises(httpx2.TransportError) as info:
                client.post(base + "/chat/completions", json=body)
            assert not isinstance(info.value, httpx2.TimeoutException)
        elif fault == "truncated":
            with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
                client.post(base + "/chat/completions", json=body)
        elif fault == "malformed":
            resp = client.post(base + "/chat/completions", json=body)
            assert resp.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(resp.content)
        elif fault == "stall":
            with pytest.raises(httpx2.ReadTimeout):
                client.post(base + "/chat/completions", json=body)
        else:
            statuses = {
                client.post(base + "/messages", json={**body, "max_tokens": 5}).status_code
                for _ in range(30)
            }
            assert statuses <= {500, 502, 503, 529} and len(statuses) > 1
        client.close()
        label = {"drop": "dropped", "stall": "stalled"}.get(fault, fault)
        by_status = _HTTP.get(base + "/stats").json()["by_status"]
        assert label in by_status or fault == "5xx"


def test_faults_follow_the_arrival_sequence() -> None:
    with running_sim(SimConfig(fault_5xx=0.5, seed=7)) as base:
        codes = [chat(base, "same prompt").status_code for _ in range(40)]
    assert 200 in codes and 500 <= max(codes) < 600  # a retry of the same request can succeed


def test_keepalive_blank_lines() -> None:
    with running_sim(SimConfig(keepalive_interval_s=0.05, latency="0.3")) as base:
        resp = chat(base, MATH_PROMPT)
        assert resp.status_code == 200 and "content-length" not in resp.headers
        assert resp.content.startswith(b"\n\n")
        assert json.loads(resp.content)["object"] == "chat.completion"
        via_sdk = oa(base).chat.completions.create(
            model="sim-r1", messages=[{"role": "user", "content": MATH_PROMPT}]
        )
        assert via_sdk.choices[0].message.content


def test_stats_count_duplicates_and_reset(url: str) -> None:
    assert _HTTP.post(url + "/stats/reset").status_code == 200
    for index in (0, 0, 1):
        chat(url, "dup?", index=index)
    stats = _HTTP.get(url + "/stats").json()
    assert stats["requests"] == 3 and stats["ok_answers"] == 3
    assert stats["duplicate_ok_answers"] == 1 and stats["distinct_ok_keys"] == 2
    assert stats["by_endpoint"] == {"/v1/chat/completions": 3} and stats["in_flight"] == 0
    assert stats["prompt_tokens"] == 3 and stats["completion_tokens"] > 0
    assert stats["last_response_at"] >= stats["first_request_at"]


# --- the HTTP server (h11, with raw bytes for the faults) -------------------------------------


def _post_bytes(body: bytes, *headers: str, path: str = "/v1/chat/completions") -> bytes:
    head = [f"POST {path} HTTP/1.1", "host: sim", "content-type: application/json", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"content-length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length off the socket; bytes after it stay in `buffer`."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-head after {bytes(buffer)!r}"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    buffer[:] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length]


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(5.0)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _connect(base: str) -> socket.socket:
    port = int(base.rsplit(":", 1)[1].split("/")[0])
    return socket.create_connection(("127.0.0.1", port), timeout=5.0)


def test_keep_alive_pipelining_and_connection_close(url: str) -> None:
    with _connect(url) as sock:
        buffer = bytearray()
        sock.sendall(_post_bytes(_BODY))
        first = _read_response(sock, buffer)
        sock.sendall(_post_bytes(_BODY) + _post_bytes(b"{bad"))  # two requests in one write
        second, third = _read_response(sock, buffer), _read_response(sock, buffer)
        sock.sendall(_post_bytes(_BODY, "connection: close"))
        last = _read_response(sock, buffer)
        assert _closed(sock) and not buffer
    assert [r[0] for r in (first, second, third, last)] == [200, 200, 400, 200]
    assert json.loads(second[2])["object"] == "chat.completion"
    assert "connection" not in first[1] and last[1]["connection"] == "close"


def test_chunked_request_body_and_http_1_0(url: str) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(_BODY), _BODY)
    with _connect(url) as sock:
        buffer = bytearray()
        sock.sendall(_post_bytes(chunked, "transfer-encoding: chunked"))
        status, _, body = _read_response(sock, buffer)
        assert status == 200 and json.loads(body)["choices"]
    with _connect(url) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        status, headers, body = _read_response(sock, bytearray())
        assert (status, body) == (200, b'{"status":"ok"}') and headers["connection"] == "close"
        assert _closed(sock)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT AN HTTP REQUEST\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nhost: sim\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (_post_bytes(b"{}", "content-length: 99999999999"), 413),
        (_post_bytes(b"{}", "content-length: two"), 400),
    ],
)
def test_unparseable_request_gets_an_error_and_close(
    url: str, request_bytes: bytes, status: int
) -> None:
    with _connect(url) as sock:
        sock.sendall(request_bytes)
        got, headers, body = _read_response(sock, bytearray())
        assert got == status and headers["connection"] == "close" and json.loads(body)["error"]
        assert _closed(sock)


def test_truncated_body_is_short_of_its_content_length() -> None:
    with running_sim(SimConfig(fault_truncated=1.0)) as base, _connect(base) as sock:
        sock.sendall(_post_bytes(_BODY))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.findall(rb"content-length: (\d+)", head)[0])
    assert head.startswith(b"HTTP/1.1 200") and 0 < len(body) < length


def test_keepalive_lines_stop_when_the_client_goes() -> None:
    config = SimConfig(keepalive_interval_s=0.02, latency="0.6")
    with running_sim(config) as base:
        with _connect(base) as sock:
            sock.sendall(_post_bytes(_BODY))
            data = b""
            while b"\r\n\r\n\n" not in data:
                data += sock.recv(65536)
        assert b"content-length" not in data.partition(b"\r\n\r\n")[0]
        deadline = time.monotonic() + 5.0
        while (stats := _HTTP.get(base + "/stats").json())["in_flight"] and (
            time.monotonic() < deadline
        ):
            time.sleep(0.02)
        time.sleep(0.7)  # past the latency: an answer still being computed would count now
        stats = _HTTP.get(base + "/stats").json()
    assert stats["in_flight"] == 0 and stats["requests"] == 1 and stats["ok_answers"] == 0


def test_many_concurrent_keep_alive_connections() -> None:
    import asyncio

    async def go(base: str) -> list[int]:
        limits = httpx2.Limits(max_connections=300, max_keepalive_connections=300)
        async with httpx2.AsyncClient(limits=limits, timeout=30.0) as client:

            async def two() -> list[int]:
                codes = []
                for _ in range(2):
                    resp = await client.post(base + "/chat/completions", content=_BODY)
                    codes.append(resp.status_code)
                return codes

            results = await asyncio.gather(*(two() for _ in range(300)))
        return [code for pair in results for code in pair]

    # A second of latency: long enough for all 300 connections to be open at once even on a
    # slow, busy machine (0.2 s was not, on CI's two cores).
    with running_sim(SimConfig(latency="1.0")) as base:
        codes = asyncio.run(go(base))
        stats = _HTTP.get(base + "/stats").json()
    assert codes == [200] * 600 and stats["ok_answers"] == 600
    assert stats["max_in_flight"] >= 250  # all connections were open and waiting at once


# --- config and processes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency": "fast"},
        {"latency": "uniform:0.3,0.1"},
        {"latency": "lognormal:1"},
        {"p_correct": 1.5},
        {"fault_drop": 0.6, "fault_stall": 0.6},
        {"host": "0.0.0.0"},
        {"status_override": 200},
    ],
)
def test_bad_config_is_one_line_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        SimConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_cli_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    assert parser.description and "SIMULATOR" in parser.description
    with pytest.raises(ConfigError, match="--rpm"):
        config_from_args(parser.parse_args(["--rpm", "lots"]))
    with pytest.raises(ConfigError, match="SIM_TEST_KEY"):
        config_from_args(parser.parse_args(["--api-key-env", "SIM_TEST_KEY"]))
    monkeypatch.setenv("SIM_TEST_KEY", "sk-env")
    config = config_from_args(
        parser.parse_args(
            ["--api-key-env", "SIM_TEST_KEY", "--latency", "exp:0.1", "--fault-drop", "0.1"]
        )
    )
    assert config.api_key == "sk-env" and "sk-env" not in repr(config)
    assert config.fault_drop == 0.1


def test_teacher_sim_in_own_loop() -> None:
    import asyncio

    async def go() -> dict[str, Any]:
        sim = TeacherSim(SimConfig())
        await sim.start()
        async with httpx2.AsyncClient() as client:
            await client.post(
                sim.url + "/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "a"}]},
            )
        await sim.stop()
        return sim.stats()

    assert asyncio.run(go())["ok_answers"] == 1


def _children() -> set[int]:
    me, found = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == me:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_sim_process_starts_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_PROC_KEY", "sk-proc")
    before = _children()
    started = time.monotonic()
    with sim_process("--api-key-env", "SIM_PROC_KEY", "--seed", "2") as base:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        assert chat(base, "a").status_code == 401
        assert (
            oa(base, "sk-proc")
            .chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
            .choices
        )
        if Path("/proc").is_dir():
            assert _children() - before
    assert time.monotonic() - started < 15
    if Path("/proc").is_dir():
        assert not _children() - before
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(base + "/models")  # a fresh connection
