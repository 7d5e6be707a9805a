"""One batch teacher's lane: submit requests as batches, collect the answers once they end.

A batch item is exactly the request the sync provider would POST, so its answer has the same
request key and the same row (rows.ok_row), priced at the batch rates. Submissions are on disk
(store.py) before and after their batch is created; one without a batch id (a crash in between)
is looked up on the server before anything is sent again, so nothing is paid for twice.

An item that expired or failed is not cached: it is submitted again when asked for, up to
harvest.max_attempts times a run; then it gets an error row. Whatever succeeded is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill.config import HarvestConfig, TeacherConfig
from distill.errors import ProviderError, RequestRejectedError, TeacherFatalError, TransientError
from distill.harvest.batch.api import (
    EXPIRED,
    FAILED,
    REJECTED_STATUSES,
    BatchInfo,
    Item,
    api_for,
    chunked,
)
from distill.harvest.batch.store import BatchStore, Submission, custom_id
from distill.harvest.cache import SampleCache
from distill.harvest.plan import PlannedRequest
from distill.harvest.providers import PROVIDERS
from distill.harvest.providers.base import Completion
from distill.harvest.rows import error_row, ok_row

if TYPE_CHECKING:
    from distill.harvest.runner import HarvestStats

log = logging.getLogger(__name__)


class BatchLane:
    """One batch teacher's submitted batches; their state lives in <out>/batches/<teacher>.json."""

    def __init__(
        self,
        name: str,
        teacher: TeacherConfig,
        api_key: str,
        out_dir: Path,
        cache: SampleCache,
        stats: HarvestStats,
        errors: dict[str, dict[str, Any]],
        settings: HarvestConfig,
    ) -> None:
        self.name, self.teacher, self.settings = name, teacher, settings
        self.cache, self.stats, self.errors = cache, stats, errors
        self.provider = PROVIDERS[teacher.provider](name, teacher, api_key)
        self.api = api_for(self.provider)
        self.store = BatchStore(out_dir / "batches", name, self.provider.base_url)
        self._subs = self.store.load()
        self._creating: set[str] = set()  # submissions whose create call is in flight
        self._attempts: Counter[str] = Counter()  # batches each key went into this run
        self.collected: set[str] = set()  # keys answered this run (cached; --refresh reads it)
        self._shown_open = 0
        self._report_open()

    def open_keys(self) -> set[str]:
        return {key for sub in self._subs for key in sub.keys}

    async def collect(self) -> int:
        return (await self._round())[1]

    async def wait(self) -> None:
        while self._subs:
            if (await self._round())[0]:
                return
            await asyncio.sleep(self.settings.batch_poll_s)

    async def submit(self, requests: list[PlannedRequest]) -> int:
        await self._recover()
        skip = self.open_keys()
        todo: list[PlannedRequest] = []
        for request in requests:
            if request.key in skip or request.key in self.errors or self._answered(request.key):
                continue
            skip.add(request.key)
            todo.append(request)
        limits = self.api.max_requests, self.api.max_bytes
        for chunk, items in chunked(todo, self._encode, *limits):
            await self._create(chunk, items)
        self._report_open()
        return len(todo)

    async def aclose(self) -> None:
        await self.provider.aclose()

    # --- submitting ---------------------------------------------------------------------------

    def _encode(self, request: PlannedRequest) -> bytes:
        """The batch item: the body the sync provider would POST, under its custom_id."""
        return self.api.encode(
            custom_id(request), self.provider.body(request.messages, request.params)
        )

    def _answered(self, key: str) -> bool:
        """With --refresh only this run's answers count; a re-asked key pays again."""
        return key in self.collected or (not self.settings.refresh and key in self.cache)

    async def _create(self, chunk: list[PlannedRequest], items: list[bytes]) -> None:
        keys = [r.key for r in chunk]
        sub = Submission(id=uuid.uuid4().hex, created_at=time.time(), keys=keys)
        self.store.write_requests(sub.id, chunk)
        self._subs.append(sub)
        self.store.save(self._subs)  # first: a crash from here on is recovered by find()
        self._creating.add(sub.id)
        try:
            sub.batch_id = await self.api.create(sub.id, items)
        except TransientError as exc:
            # The batch may exist (a timeout after the server took it): the next poll looks for
            # it before its requests are sent again. An interrupt leaves the same state on disk.
            log.warning("teacher %s: creating a batch failed (%s); the next poll looks for it",
                        self.name, exc)  # fmt: skip
            return
        except (ProviderError, TeacherFatalError):
            self._forget(sub)  # refused: nothing was made
            raise
        finally:
            self._creating.discard(sub.id)
        self.store.save(self._subs)
        self.stats.batch_ids.append(sub.batch_id)
        self.stats.batch_submitted += len(keys)
        self._attempts.update(keys)
        log.info("teacher %s: batch %s of %d requests", self.name, sub.batch_id, len(keys))

    async def _recover(self) -> int:
        """Adopt or forget each submission a crash left without a batch id; how many changed."""
        changed = 0
        for sub in [s for s in self._subs if not s.batch_id and s.id not in self._creating]:
            known = {s.batch_id for s in self._subs if s.batch_id}
            try:
                found = await self.api.find(sub.id, sub.created_at, len(sub.keys), known)
            except TransientError as exc:
                log.warning("teacher %s: looking for batch of submission %s failed (%s); trying "
                            "again at the next poll", self.name, sub.id, exc)  # fmt: skip
                continue
            changed += 1
            if found is None:
                log.info("teacher %s: submission %s never became a batch; its %d requests will "
                         "be sent again", self.name, sub.id, len(sub.keys))  # fmt: skip
                self._forget(sub)
                continue
            sub.batch_id = found
            self.store.save(self._subs)
            log.info("teacher %s: adopted batch %s of submission %s", self.name, found, sub.id)
        return changed

    # --- collecting ---------------------------------------------------------------------------

    async def _round(self) -> tuple[int, int]:
        """Poll each open batch once and collect the ended ones: (batches gone, answers added)."""
        changed = await self._recover()
        added = 0
        for sub in [s for s in self._subs if s.batch_id]:
            try:
                info = await self.api.retrieve(sub.batch_id)
                if info.ended:
                    got, done = await self._collect(sub, info)
                    added, changed = added + got, changed + done
            except RequestRejectedError as exc:
                if exc.status != 404:
                    log.warning("%s (batch %s); trying again at the next poll", exc, sub.batch_id)
                    continue
                log.warning("teacher %s: batch %s is not on the server; its %d requests will be "
                            "sent again", self.name, sub.batch_id, len(sub.keys))  # fmt: skip
                self._forget(sub)
                changed += 1
            except TransientError as exc:
                log.warning("%s (batch %s); trying again at the next poll", exc, sub.batch_id)
        self._report_open()
        return changed, added

    async def _collect(self, sub: Submission, info: BatchInfo) -> tuple[int, bool]:
        """(answers added, whether the batch was read whole). Each answer is cached as it is
        read; failures count once all were read: a download that breaks off is read again at
        the next poll, and the answers it already gave are not added twice."""
        requests = self.store.read_requests(sub.id)
        failed: list[tuple[PlannedRequest, Item]] = []
        seen: set[str] = set()
        added = 0
        try:
            async for item in self.api.results(info):
                request = requests.get(item.custom_id)
                if request is None or item.custom_id in seen:
                    log.warning("teacher %s: batch %s: unknown or repeated custom_id %r; ignored",
                                self.name, info.id, item.custom_id[:80])  # fmt: skip
                    continue
                seen.add(item.custom_id)
                if item.body is None:
                    failed.append((request, item))
                elif not self._answered(request.key):
                    try:
                        completion = self.provider.completion(item.body)
                    except ProviderError as exc:
                        failed.append((request, replace(item, failure=FAILED, message=str(exc))))
                        continue
                    self._keep(request, completion, time.time() - sub.created_at)
                    added += 1
        except TransientError as exc:
            log.warning("%s (results of batch %s); trying again at the next poll", exc, info.id)
            return added, False
        missing = EXPIRED if info.expired else FAILED
        for cid, request in requests.items():
            if cid not in seen:
                failed.append(
                    (request, Item(cid, failure=missing, message=f"no result ({info.status})"))
                )
        for request, item in failed:
            self._failed(request, item, info.id)
        log.info("teacher %s: batch %s %s (%s): %d answers", self.name, info.id, info.status,
                 info.counts, added)  # fmt: skip
        self._forget(sub)
        return added, True

    def _keep(self, request: PlannedRequest, completion: Completion, latency: float) -> None:
        row = ok_row(self.teacher, request, completion, latency, self.stats, batch=True)
        self.cache.put(request.key, row)
        self.collected.add(request.key)
        self.stats.batch_collected += 1
        self.stats.ok += 1

    def _failed(self, request: PlannedRequest, item: Item, batch_id: str) -> None:
        """An error row once the request cannot succeed this run; else it is asked again."""
        if self._answered(request.key):
            return  # answered meanwhile (a duplicate, or another batch)
        tries = self._attempts[request.key]
        what = f"teacher {self.name!r}: batch {batch_id}: {' '.join(item.message.split())}"
        exc: ProviderError
        if item.status in REJECTED_STATUSES:
            exc = RequestRejectedError(what, item.status)  # as a sync 4xx: not asked again
        elif tries >= self.settings.max_attempts:
            exc = TransientError(f"{what} (in {tries} batches this run)", kind=item.failure)
        else:
            return
        self.errors[request.key] = error_row(request, exc)
        self.stats.errors += 1
        self.stats.errors_by_kind[exc.kind] += 1

    def _forget(self, sub: Submission) -> None:
        self._subs.remove(sub)
        self.store.save(self._subs)
        self.store.drop_requests(sub.id)

    def _report_open(self) -> None:
        """stats.batch_open is every batch lane's: this lane adds what changed in its own."""
        now = sum(len(s.keys) for s in self._subs)
        self.stats.batch_open += now - self._shown_open
        self._shown_open = now
