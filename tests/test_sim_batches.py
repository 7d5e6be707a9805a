"""The simulator's Batch APIs (OpenAI files + batches, Anthropic message batches), driven by the
official SDKs over real HTTP on 127.0.0.1: wire compatibility, answers equal to the sync ones,
delays, expired / failed items, list, cancel, auth, bad input, and the /stats counters."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anthropic
import openai
import pytest
from factories import sim_stats

from distill.errors import ConfigError
from distill.sim import SimConfig, add_sim_arguments, config_from_args, running_sim

T = TypeVar("T")
KEY = "sk-sim-batches"
MATH = "What is 6 times 7?"
TASKS = [
    {"id": "m1", "kind": "math", "prompt": MATH, "reference": {"answer": "42"}},
    {"id": "m2", "kind": "math", "prompt": "What is 2 plus 2?", "reference": {"answer": "4"}},
]
ENDPOINT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("simb") / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    return str(path)


@pytest.fixture
def sim(task_file: str) -> Iterator[str]:
    with running_sim(SimConfig(seed=3, task_files=(task_file,))) as url:
        yield url


def run(work: Callable[[openai.AsyncOpenAI, anthropic.AsyncAnthropic], Awaitable[T]], url: str,
        key: str = KEY) -> T:  # fmt: skip
    """`work` with both async SDK clients, made and closed inside one event loop."""

    async def go() -> T:
        oa = openai.AsyncOpenAI(base_url=url, api_key=key, max_retries=0)
        an = anthropic.AsyncAnthropic(base_url=url.removesuffix("/v1"), api_key=key, max_retries=0)
        try:
            return await work(oa, an)
        finally:
            await oa.close()
            await an.close()

    return asyncio.run(go())


def chat_body(prompt: str = MATH, **extra: Any) -> dict[str, Any]:
    return {"model": "sim-r1", "messages": [{"role": "user", "content": prompt}], **extra}


def msg_body(prompt: str = MATH, **extra: Any) -> dict[str, Any]:
    return {
        "model": "sim-claude",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def jsonl_of(items: list[tuple[str, dict[str, Any]]]) -> bytes:
    rows = [{"custom_id": c, "method": "POST", "url": ENDPOINT, "body": b} for c, b in items]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


async def submit(oa: openai.AsyncOpenAI, data: bytes) -> Any:
    uploaded = await oa.files.create(file=("in.jsonl", data), purpose="batch")
    return await oa.batches.create(
        input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
    )


async def lines_of(oa: openai.AsyncOpenAI, file_id: str | None) -> dict[str, Any]:
    if file_id is None:
        return {}
    content = await oa.files.content(file_id)
    return {row["custom_id"]: row for row in map(json.loads, content.text.splitlines())}


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 30.0
    while not await check():
        assert time.monotonic() < deadline, "the batch never ended"
        await asyncio.sleep(0.02)


def message_of(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = body["choices"][0]["message"]
    return message


# --- answers equal the sync ones --------------------------------------------------------------


def test_openai_batch_answers_equal_the_sync_answers(sim: str) -> None:
    items = [("s0-a", chat_body()), ("s1-a", chat_body()), ("s3-b", chat_body("What is 2 plus 2?"))]
    items.append(("plain-id", chat_body("Hello?", max_tokens=5)))  # no s{N}-: sample 0

    async def work(oa: openai.AsyncOpenAI, _: anthropic.AsyncAnthropic) -> Any:
        created = await submit(oa, jsonl_of(items))
        batch = await oa.batches.retrieve(created.id)
        uploaded = await oa.files.retrieve(created.input_file_id)
        raw = await oa.files.content(created.input_file_id)
        out = await lines_of(oa, batch.output_file_id)
        sync = {}
        for (custom_id, body), index in zip(items, (0, 1, 3, 0), strict=True):
            headers = {"x-distill-sample-index": str(index)}
            resp = await oa.chat.completions.with_raw_response.create(**body, extra_headers=headers)
            sync[custom_id] = json.loads(resp.content)
        return created, batch, uploaded, raw.content, out, sync

    created, batch, uploaded, raw, out, sync = run(work, sim)
    assert created.status == "validating" and created.id.startswith("batch_")
    assert batch.status == "completed" and batch.completed_at and batch.in_progress_at
    assert batch.request_counts is not None and batch.request_counts.total == 4
    assert (batch.request_counts.completed, batch.request_counts.failed) == (4, 0)
    assert batch.error_file_id is None and batch.usage is not None
    assert uploaded.purpose == "batch" and uploaded.filename == "in.jsonl"
    assert raw == jsonl_of(items) and uploaded.bytes == len(raw)
    assert set(out) == {c for c, _ in items}
    for custom_id, row in out.items():
        assert row["id"].startswith("batch_req_") and row["error"] is None
        assert row["response"]["status_code"] == 200 and row["response"]["request_id"]
        body = row["response"]["body"]
        assert body["object"] == "chat.completion"
        assert message_of(body) == message_of(sync[custom_id])
        assert body["usage"] == sync[custom_id]["usage"]
    assert message_of(out["s0-a"]["response"]["body"]) != message_of(
        out["s1-a"]["response"]["body"]
    )
    assert out["plain-id"]["response"]["body"]["choices"][0]["finish_reason"] == "length"
    stats = sim_stats(sim)
    assert stats["batches_created"] == 1 and stats["batch_items"] == 4
    assert stats["ok_answers"] == 8 and stats["duplicate_ok_answers"] == 4  # sync repeated each


def test_anthropic_batch_answers_equal_the_sync_answers(sim: str) -> None:
    items = [("s0-a", msg_body()), ("s2-a", msg_body()), ("s1-b", msg_body("What is 2 plus 2?"))]

    async def work(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        created = await an.messages.batches.create(
            requests=[{"custom_id": c, "params": b} for c, b in items]
        )
        batch = await an.messages.batches.retrieve(created.id)
        results = [r async for r in await an.messages.batches.results(created.id)]
        sync = {}
        for (custom_id, body), index in zip(items, (0, 2, 1), strict=True):
            headers = {"x-distill-sample-index": str(index)}
            sync[custom_id] = await an.messages.create(**body, extra_headers=headers)
        return created, batch, results, sync

    created, batch, results, sync = run(work, sim)
    assert created.processing_status == "in_progress" and created.id.startswith("msgbatch_")
    assert created.results_url is None and created.request_counts.processing == 3
    assert batch.processing_status == "ended" and batch.ended_at is not None
    assert batch.request_counts.succeeded == 3 and batch.request_counts.processing == 0
    assert batch.results_url == f"{sim.removesuffix('/v1')}/v1/messages/batches/{batch.id}/results"
    assert [r.custom_id for r in results] == [c for c, _ in items]
    for row in results:
        assert row.result.type == "succeeded"
        got, want = row.result.message, sync[row.custom_id]
        assert got.content == want.content and got.usage == want.usage
        assert got.content[0].type == "thinking"
    assert results[0].result.message.content != results[1].result.message.content
    with urllib.request.urlopen(batch.results_url, timeout=10) as resp:  # no key needed here
        assert resp.headers["content-type"] == "application/x-jsonl"
        assert len(resp.read().splitlines()) == 3
    stats = sim_stats(sim)
    assert stats["batches_created"] == 1 and stats["batch_items"] == 3
    assert stats["duplicate_ok_answers"] == 3 and stats["by_endpoint"]["/v1/messages"] == 3


# --- timing, fates, list, cancel --------------------------------------------------------------


def test_a_delayed_batch_is_in_progress_first_then_ends(task_file: str) -> None:
    async def work(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        first = await submit(oa, jsonl_of([("s0-a", chat_body())]))
        mfirst = await an.messages.batches.create(
            requests=[{"custom_id": "s0-a", "params": msg_body()}]
        )
        seen = await oa.batches.retrieve(first.id), await an.messages.batches.retrieve(mfirst.id)
        with pytest.raises(anthropic.AnthropicError, match="results_url"):
            await an.messages.batches.results(mfirst.id)

        async def ended() -> bool:
            done = (
                await oa.batches.retrieve(first.id),
                await an.messages.batches.retrieve(mfirst.id),
            )
            return done[0].status == "completed" and done[1].processing_status == "ended"

        await until(ended)
        last = await oa.batches.retrieve(first.id), await an.messages.batches.retrieve(mfirst.id)
        return seen, last, await lines_of(oa, last[0].output_file_id)

    with running_sim(SimConfig(batch_delay_s=2.0, task_files=(task_file,))) as url:
        seen, last, out = run(work, url)
        stats = sim_stats(url)
    assert seen[0].status == "in_progress" and seen[0].output_file_id is None
    assert seen[1].processing_status == "in_progress" and seen[1].results_url is None
    assert last[0].completed_at is not None and last[1].results_url
    assert set(out) == {"s0-a"} and stats["batch_items"] == 2


def test_results_before_the_end_are_refused(task_file: str) -> None:
    async def work(_: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        batch = await an.messages.batches.create(
            requests=[{"custom_id": "x", "params": msg_body()}]
        )
        with pytest.raises(anthropic.ConflictError):
            await an.get(f"/v1/messages/batches/{batch.id}/results", cast_to=object)
        with pytest.raises(anthropic.NotFoundError):
            await an.messages.batches.retrieve("msgbatch_nope")

    with running_sim(SimConfig(batch_delay_s=60, task_files=(task_file,))) as url:
        run(work, url)


ITEMS = [(f"s{i % 3}-key{i:02d}", chat_body(f"Question {i}?")) for i in range(40)]
MITEMS = [(c, msg_body(f"Question {i}?")) for i, (c, _) in enumerate(ITEMS)]


def test_expired_and_failed_items(task_file: str) -> None:
    async def work(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        batch = await oa.batches.retrieve((await submit(oa, jsonl_of(ITEMS))).id)
        created = await an.messages.batches.create(
            requests=[{"custom_id": c, "params": b} for c, b in MITEMS]
        )
        mbatch = await an.messages.batches.retrieve(created.id)
        results = [r async for r in await an.messages.batches.results(created.id)]
        out = await lines_of(oa, batch.output_file_id)
        return batch, out, await lines_of(oa, batch.error_file_id), mbatch, results

    config = SimConfig(
        batch_expire_rate=0.25, batch_fail_rate=0.25, seed=9, task_files=(task_file,)
    )
    with running_sim(config) as url:
        batch, out, errors, mbatch, results = run(work, url)
        stats = sim_stats(url)
    expired = {c for c, row in errors.items() if row["error"]}
    failed = {c for c, row in errors.items() if row["response"]}
    assert expired and failed and out  # seed 9: some of each, always the same ones
    assert set(out) | expired | failed == {c for c, _ in ITEMS}
    assert batch.status == "expired" and batch.expired_at is not None
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (
        len(out),
        len(expired) + len(failed),
    )
    for custom_id in expired:
        assert errors[custom_id]["response"] is None
        assert errors[custom_id]["error"]["code"] == "batch_expired"
        assert "completion window expired" in errors[custom_id]["error"]["message"]
    for custom_id in failed:
        response = errors[custom_id]["response"]
        assert response["status_code"] == 500 and response["body"]["error"]["message"]
        assert errors[custom_id]["error"] is None and errors[custom_id]["id"].startswith(
            "batch_req_"
        )
    # The fate follows the custom_id, whichever API carries it.
    kinds = {r.custom_id: r.result.type for r in results}
    assert {c for c, k in kinds.items() if k == "expired"} == expired
    assert {c for c, k in kinds.items() if k == "errored"} == failed
    errored = next(r.result for r in results if r.result.type == "errored")
    assert errored.error.error.type == "api_error"
    counts = mbatch.request_counts
    assert (counts.succeeded, counts.expired, counts.errored) == (
        len(out),
        len(expired),
        len(failed),
    )
    assert stats["batch_items"] == 2 * len(out)
    assert stats["batch_items_expired"] == 2 * len(expired)
    assert stats["batch_items_failed"] == 2 * len(failed)


def test_failed_items_alone_leave_the_batch_completed(task_file: str) -> None:
    async def work(oa: openai.AsyncOpenAI, _: anthropic.AsyncAnthropic) -> Any:
        bad = chat_body(max_tokens=-3)  # the sync endpoint's own 400
        batch = await oa.batches.retrieve((await submit(oa, jsonl_of([*ITEMS, ("bad", bad)]))).id)
        return batch, await lines_of(oa, batch.error_file_id)

    with running_sim(SimConfig(batch_fail_rate=0.3, task_files=(task_file,))) as url:
        batch, errors = run(work, url)
    assert batch.status == "completed" and errors
    assert errors["bad"]["response"]["status_code"] == 400
    assert "max_tokens" in errors["bad"]["response"]["body"]["error"]["message"]
    assert {row["response"]["status_code"] for row in errors.values()} == {400, 500}


def test_list_and_cancel(task_file: str) -> None:
    async def work(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        made = [await submit(oa, jsonl_of(ITEMS[:3])) for _ in range(3)]
        page = await oa.batches.list(limit=2)
        rest = await oa.batches.list(limit=2, after=page.data[-1].id)
        every = [b.id async for b in oa.batches.list(limit=1)]  # the SDK pages by `after`
        cancelling = await oa.batches.cancel(made[0].id)
        cancelled = await oa.batches.retrieve(made[0].id)
        errors = await lines_of(oa, cancelled.error_file_id)
        with pytest.raises(openai.ConflictError):
            await oa.batches.cancel(made[0].id)
        mmade = [
            await an.messages.batches.create(
                requests=[{"custom_id": c, "params": b} for c, b in MITEMS[:2]]
            )
            for _ in range(2)
        ]
        mpage = await an.messages.batches.list(limit=1)
        mall = [b.id async for b in an.messages.batches.list(limit=1)]
        canceling = await an.messages.batches.cancel(mmade[1].id)
        ended = await an.messages.batches.retrieve(mmade[1].id)
        mresults = [r async for r in await an.messages.batches.results(mmade[1].id)]
        with pytest.raises(anthropic.ConflictError):
            await an.messages.batches.cancel(mmade[1].id)
        untouched = await an.messages.batches.retrieve(mmade[0].id)
        return (made, page, rest, every, cancelling, cancelled, errors, mmade, mpage, mall,
                canceling, ended, mresults, untouched)  # fmt: skip

    with running_sim(SimConfig(batch_delay_s=600, task_files=(task_file,))) as url:
        (made, page, rest, every, cancelling, cancelled, errors, mmade, mpage, mall, canceling,
         ended, mresults, untouched) = run(work, url)  # fmt: skip
        stats = sim_stats(url)
    newest = [b.id for b in reversed(made)]
    assert [b.id for b in page.data] == newest[:2] and page.has_more
    assert [b.id for b in rest.data] == newest[2:] and not rest.has_more
    assert every == newest
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert cancelled.output_file_id is None  # a 600 s batch canceled at once: nothing done
    assert {row["error"]["code"] for row in errors.values()} == {"batch_cancelled"}
    assert set(errors) == {c for c, _ in ITEMS[:3]}
    assert mpage.data[0].id == mmade[1].id and mpage.has_more
    assert mall == [b.id for b in reversed(mmade)]
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 2
    assert {r.result.type for r in mresults} == {"canceled"}
    assert untouched.processing_status == "in_progress"
    assert stats["batch_items_canceled"] == 5 and stats["batch_items"] == 0


def test_a_canceled_batch_keeps_what_was_done(task_file: str) -> None:
    async def work(oa: openai.AsyncOpenAI, _: anthropic.AsyncAnthropic) -> Any:
        created = await submit(oa, jsonl_of(ITEMS[:20]))
        await asyncio.sleep(0.6)  # items finish evenly over 10 s: the first is done by 0.5 s
        await oa.batches.cancel(created.id)
        batch = await oa.batches.retrieve(created.id)
        return (
            batch,
            await lines_of(oa, batch.output_file_id),
            await lines_of(oa, batch.error_file_id),
        )

    with running_sim(SimConfig(batch_delay_s=10.0, task_files=(task_file,))) as url:
        batch, out, errors = run(work, url)
    assert batch.status == "cancelled" and "s0-key00" in out and errors
    assert set(out) | set(errors) == {c for c, _ in ITEMS[:20]}
    assert {row["error"]["code"] for row in errors.values()} == {"batch_cancelled"}


# --- auth, bad input --------------------------------------------------------------------------


def test_every_batch_route_needs_the_key(task_file: str) -> None:
    async def refused(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> None:
        with pytest.raises(openai.AuthenticationError):
            await oa.files.create(file=("in.jsonl", jsonl_of(ITEMS[:1])), purpose="batch")
        with pytest.raises(openai.AuthenticationError):
            await oa.batches.list()
        with pytest.raises(openai.AuthenticationError):
            await oa.batches.retrieve("batch_x")
        with pytest.raises(anthropic.AuthenticationError):
            await an.messages.batches.create(requests=[{"custom_id": "a", "params": msg_body()}])
        with pytest.raises(anthropic.AuthenticationError):
            await an.messages.batches.list()

    async def allowed(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        batch = await oa.batches.retrieve((await submit(oa, jsonl_of(ITEMS[:1]))).id)
        mbatch = await an.messages.batches.create(
            requests=[{"custom_id": "a", "params": msg_body()}]
        )
        mbatch = await an.messages.batches.retrieve(mbatch.id)
        return batch, mbatch, [r async for r in await an.messages.batches.results(mbatch.id)]

    with running_sim(SimConfig(api_key=KEY, task_files=(task_file,))) as url:
        run(refused, url, key="sk-wrong")
        batch, mbatch, results = run(allowed, url)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(mbatch.results_url, timeout=10)  # no key: refused
        info.value.close()
        stats = sim_stats(url)
    assert info.value.code == 401
    assert batch.status == "completed" and [r.result.type for r in results] == ["succeeded"]
    assert stats["by_status"]["401"] == 6 and stats["batches_created"] == 2


def test_a_bad_input_line_fails_the_batch(task_file: str) -> None:
    good = {"custom_id": "s0-a", "method": "POST", "url": ENDPOINT, "body": chat_body()}
    lines = [
        json.dumps(good),
        '{"custom_id": "s1-a", "method": "POST", "url": ',  # cut short
        json.dumps(good | {"custom_id": "s2-a", "method": "GET"}),
        json.dumps(good | {"custom_id": "s3-a", "url": "/v1/embeddings"}),
        json.dumps(good),  # the same custom_id again
        json.dumps({"method": "POST", "url": ENDPOINT, "body": chat_body()}),
        json.dumps(good | {"custom_id": "s4-a", "body": "hi"}),
    ]

    async def work(oa: openai.AsyncOpenAI, _: anthropic.AsyncAnthropic) -> Any:
        created = await submit(oa, ("\n".join(lines) + "\n").encode())
        return created, await oa.batches.retrieve(created.id)

    with running_sim(SimConfig(task_files=(task_file,))) as url:
        created, batch = run(work, url)
        stats = sim_stats(url)
    assert created.status == "validating"
    assert batch.status == "failed" and batch.failed_at is not None and batch.errors is not None
    found = {(e.line, e.code) for e in batch.errors.data or []}
    assert found == {
        (2, "invalid_json_line"),
        (3, "invalid_value"),
        (4, "invalid_url"),
        (5, "duplicate_custom_id"),
        (6, "missing_required_parameter"),
        (7, "missing_required_parameter"),
    }
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.request_counts is not None and batch.request_counts.total == 0
    assert stats["batch_items"] == 0 and stats["ok_answers"] == 0


def test_bad_create_requests_are_refused(task_file: str) -> None:
    async def work(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> Any:
        uploaded = await oa.files.create(file=("in.jsonl", jsonl_of(ITEMS[:1])), purpose="batch")
        other = await oa.files.create(file=("x.jsonl", b"{}\n"), purpose="fine-tune")
        with pytest.raises(openai.NotFoundError):
            await oa.batches.create(
                input_file_id="file-nope", endpoint=ENDPOINT, completion_window="24h"
            )
        with pytest.raises(openai.BadRequestError, match="endpoint"):
            await oa.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
            )
        with pytest.raises(openai.BadRequestError, match="purpose"):
            await oa.batches.create(
                input_file_id=other.id, endpoint=ENDPOINT, completion_window="24h"
            )
        with pytest.raises(openai.NotFoundError):
            await oa.files.content("file-nope")
        deleted = await oa.files.delete(other.id)
        with pytest.raises(anthropic.BadRequestError, match="custom_id"):
            await an.messages.batches.create(
                requests=[{"custom_id": "has space", "params": msg_body()}]
            )
        with pytest.raises(anthropic.BadRequestError, match="used twice"):
            await an.messages.batches.create(
                requests=[{"custom_id": "a", "params": msg_body()}] * 2
            )
        bad = await an.messages.batches.create(
            requests=[{"custom_id": "a", "params": {"model": "sim-claude", "max_tokens": 9}}]
        )
        return deleted, [r async for r in await an.messages.batches.results(bad.id)]

    with running_sim(SimConfig(task_files=(task_file,))) as url:
        deleted, results = run(work, url)
        stats = sim_stats(url)
    assert deleted.deleted
    assert results[0].result.type == "errored"
    assert results[0].result.error.error.type == "invalid_request_error"
    assert stats["batches_created"] == 1 and stats["batch_items_failed"] == 1


# --- /stats: one fingerprint for a sync request and a batch item -----------------------------


def test_sync_and_batch_share_the_duplicate_accounting(task_file: str) -> None:
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    marked = msg_body(system=system)
    plain = msg_body(system=[{"type": "text", "text": "Be brief."}])

    async def work(oa: openai.AsyncOpenAI, an: anthropic.AsyncAnthropic) -> None:
        for index in (0, 1):
            headers = {"x-distill-sample-index": str(index)}
            await oa.chat.completions.create(**chat_body(), extra_headers=headers)
            await an.messages.create(**plain, extra_headers=headers)
        after_sync = sim_stats(url)
        assert after_sync["ok_answers"] == 4 and after_sync["duplicate_ok_answers"] == 0
        # Samples 2 and 3 are new; 0 and 1 were answered by the sync run already.
        created = await submit(oa, jsonl_of([(f"s{i}-k", chat_body()) for i in (2, 3, 0)]))
        await oa.batches.retrieve(created.id)
        mcreated = await an.messages.batches.create(
            requests=[{"custom_id": f"s{i}-k", "params": marked} for i in (2, 1)]
        )
        await an.messages.batches.retrieve(mcreated.id)

    with running_sim(SimConfig(task_files=(task_file,))) as url:
        run(work, url)
        stats = sim_stats(url)
        assert urllib.request.urlopen(url.removesuffix("/v1") + "/stats/reset", b"").status == 200
        reset = sim_stats(url)
    assert stats["batch_items"] == 5 and stats["ok_answers"] == 9
    assert stats["duplicate_ok_answers"] == 2  # s0 (OpenAI) and s1 (Anthropic, markers aside)
    assert stats["distinct_ok_keys"] == 7
    assert stats["by_endpoint"]["/v1/batches"] == 1 and stats["by_endpoint"]["/v1/files"] == 1
    assert stats["by_endpoint"]["/v1/messages/batches"] == 1 and stats["in_flight"] == 0
    for name in ("batches_created", "batch_items", "batch_items_failed", "batch_items_expired"):
        assert reset[name] == 0


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_delay_s": -1},
        {"batch_delay_s": float("inf")},
        {"batch_expire_rate": 1.5},
        {"batch_expire_rate": 0.6, "batch_fail_rate": 0.6},
        {"batch_fail_rate": -0.1},
    ],
)
def test_bad_batch_settings_are_one_line_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="batch") as info:
        SimConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_batch_flags() -> None:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    args = ["--batch-delay-s", "2.5", "--batch-expire-rate", "0.1", "--batch-fail-rate", "0.2"]
    config = config_from_args(parser.parse_args(args))
    assert (config.batch_delay_s, config.batch_expire_rate, config.batch_fail_rate) == (
        2.5,
        0.1,
        0.2,
    )
    with pytest.raises(ConfigError, match="--batch-fail-rate"):
        config_from_args(parser.parse_args(["--batch-fail-rate", "lots"]))
