"""The OpenAI Files API as the Batch API needs it: multipart upload, retrieve, content, delete.

Files live in memory for the simulator's lifetime; batches write their output and error files
here too (purpose "batch_output"), as the real API does.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any

from distill.sim.server import Request, Response
from distill.sim.wire import error_response, json_bytes


@dataclass(slots=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }


def _params(header: str) -> Message:
    msg = Message()
    msg["content-disposition"] = header
    return msg


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """multipart/form-data fields by name: (filename or None, raw bytes). Raises ValueError
    naming what is wrong when the body is not well-formed multipart."""
    head = Message()
    head["content-type"] = content_type
    if head.get_content_type() != "multipart/form-data":
        raise ValueError(f"expected multipart/form-data, got {content_type or 'nothing'!r}")
    boundary = head.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart/form-data without a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("multipart body is not closed by its boundary")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for chunk in chunks[1:-1]:
        part = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        raw_head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without a blank line after its headers")
        disposition = ""
        for line in raw_head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value.strip()
        parsed = _params(disposition)
        field = parsed.get_param("name", header="content-disposition")
        if not isinstance(field, str):
            raise ValueError("multipart part without a form field name")
        filename = parsed.get_filename()
        fields[field] = (filename, data)
    return fields


class FileStore:
    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}

    def add(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        stored = StoredFile(
            "file-" + secrets.token_hex(12), filename, purpose, data, int(time.time())
        )
        self.files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)

    def delete(self, file_id: str) -> bool:
        return self.files.pop(file_id, None) is not None


def handle_files(store: FileStore, name: str, file_id: str, req: Request) -> Response:
    """POST /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content, DELETE /v1/files/{id}."""
    if name == "files.create":
        return _upload(store, req)
    stored = store.get(file_id)
    if stored is None:
        return error_response(False, 404, f"No such File object: {file_id}")
    if name == "files.content":
        return Response(200, stored.data, content_type="application/octet-stream")
    if name == "files.delete":
        store.delete(file_id)
        return Response(200, json_bytes({"id": file_id, "object": "file", "deleted": True}))
    return Response(200, json_bytes(stored.as_dict()))


def _upload(store: FileStore, req: Request) -> Response:
    try:
        fields = parse_multipart(req.headers.get("content-type", ""), req.body)
    except ValueError as exc:
        return error_response(False, 400, f"files: {exc}")
    filename, data = fields.get("file", (None, b""))
    purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace").strip()
    if filename is None:
        return error_response(False, 400, "files: a 'file' part with a filename is required")
    if not purpose:
        return error_response(False, 400, "files: a 'purpose' field is required")
    return Response(200, json_bytes(store.add(filename, purpose, data).as_dict()))
