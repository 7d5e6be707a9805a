"""The simulator's routes: templates with {name} path parameters, matched segment by segment."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qs, unquote


class Route(NamedTuple):
    method: str
    template: str  # without the /v1 prefix, e.g. "/batches/{id}/cancel"
    name: str
    api: str  # whose error format and auth it uses: "openai", "anthropic" or "" (none)


ROUTES = (
    Route("POST", "/chat/completions", "chat", "openai"),
    Route("POST", "/messages", "messages", "anthropic"),
    Route("GET", "/models", "models", "openai"),
    Route("GET", "/stats", "stats", ""),
    Route("POST", "/stats/reset", "stats/reset", ""),
    Route("GET", "/health", "health", ""),
    Route("POST", "/files", "files.create", "openai"),
    Route("GET", "/files/{id}", "files.retrieve", "openai"),
    Route("DELETE", "/files/{id}", "files.delete", "openai"),
    Route("GET", "/files/{id}/content", "files.content", "openai"),
    Route("POST", "/batches", "batches.create", "openai"),
    Route("GET", "/batches", "batches.list", "openai"),
    Route("GET", "/batches/{id}", "batches.retrieve", "openai"),
    Route("POST", "/batches/{id}/cancel", "batches.cancel", "openai"),
    Route("POST", "/messages/batches", "msgbatches.create", "anthropic"),
    Route("GET", "/messages/batches", "msgbatches.list", "anthropic"),
    Route("GET", "/messages/batches/{id}", "msgbatches.retrieve", "anthropic"),
    Route("DELETE", "/messages/batches/{id}", "msgbatches.delete", "anthropic"),
    Route("GET", "/messages/batches/{id}/results", "msgbatches.results", "anthropic"),
    Route("POST", "/messages/batches/{id}/cancel", "msgbatches.cancel", "anthropic"),
)
_SPLIT = tuple((route, tuple(route.template.strip("/").split("/"))) for route in ROUTES)
_EXACT = {(r.method, r.template): r for r in ROUTES if "{" not in r.template}  # the hot path


class Match(NamedTuple):
    route: Route
    params: dict[str, str]
    query: dict[str, str]  # the first value of each query parameter


def resolve(method: str, target: str) -> Match | list[Route]:
    """The route for a request, or the routes with its path (none: 404, some: 405)."""
    path, _, query = target.partition("?")
    while path.startswith("/v1/"):  # the Anthropic SDK appends /v1 to a base URL ending in /v1
        path = path[3:]
    exact = _EXACT.get((method, path))
    if exact is not None:
        values = parse_qs(query, keep_blank_values=True) if query else {}
        return Match(exact, {}, {k: v[0] for k, v in values.items()})
    segments = tuple(unquote(s) for s in path.strip("/").split("/"))
    same_path: list[Route] = []
    for route, parts in _SPLIT:
        if len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    break
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            if route.method == method:
                values = parse_qs(query, keep_blank_values=True)
                return Match(route, params, {k: v[0] for k, v in values.items()})
            same_path.append(route)
    return same_path
