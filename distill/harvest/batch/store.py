"""A batch teacher's submissions on disk, so a batch paid for survives any crash.

    <out>/batches/<teacher>.json           the submissions: id, time, request keys, batch id
    <out>/batches/<teacher>/<sub>.jsonl    each submission's requests, to build its rows from

Both are written atomically. A submission is recorded before its batch is created and again
with the batch id once it has one; one without a batch id is recovered from the server (lane.py).
No API key is ever written here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from distill.errors import InputError
from distill.harvest.plan import PlannedRequest
from distill.jsonl import BadLine, iter_jsonl, write_jsonl_atomic, write_text_atomic

VERSION = 1


@dataclass
class Submission:
    id: str
    created_at: float  # time.time() just before the batch was created
    keys: list[str]
    batch_id: str = ""


def custom_id(request: PlannedRequest) -> str:
    """The batch item's id: the simulator reads the sample index from it; 35 characters."""
    return f"s{request.sample_index}-{request.key}"


class BatchStore:
    def __init__(self, folder: Path, teacher: str, base_url: str) -> None:
        self.path = folder / f"{teacher}.json"
        self._requests = folder / teacher
        self._teacher = teacher
        self._base_url = base_url

    def load(self) -> list[Submission]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [
                Submission(
                    id=str(s["id"]),
                    created_at=float(s["created_at"]),
                    keys=[str(k) for k in s["keys"]],
                    batch_id=str(s.get("batch_id") or ""),
                )
                for s in data["submissions"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{self.path}: unreadable batch state ({type(exc).__name__}: {exc}); restore it, "
                "or delete it to forget its batches (their requests are then paid again)"
            ) from None

    def save(self, submissions: list[Submission]) -> None:
        data = {
            "version": VERSION,
            "teacher": self._teacher,
            "base_url": self._base_url,
            "submissions": [asdict(s) for s in submissions],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(data, indent=1) + "\n")

    def write_requests(self, submission: str, requests: list[PlannedRequest]) -> None:
        self._requests.mkdir(parents=True, exist_ok=True)
        rows = ({"custom_id": custom_id(r), **asdict(r)} for r in requests)
        write_jsonl_atomic(self._requests / f"{submission}.jsonl", rows)

    def read_requests(self, submission: str) -> dict[str, PlannedRequest]:
        """custom_id → request; an unreadable file raises InputError (the state is kept)."""
        path = self._requests / f"{submission}.jsonl"
        try:
            return {str(row.pop("custom_id")): PlannedRequest(**row) for _, row in iter_jsonl(path)}
        except (OSError, BadLine, KeyError, TypeError) as exc:
            raise InputError(
                f"{path}: unreadable batch requests ({type(exc).__name__}); restore it, or "
                f"delete {self.path} to forget its batches (their requests are then paid again)"
            ) from None

    def drop_requests(self, submission: str) -> None:
        (self._requests / f"{submission}.jsonl").unlink(missing_ok=True)
