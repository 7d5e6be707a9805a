"""OpenAssistant (oasst1/oasst2) message trees → one multi-turn chat task per conversation.

Reads both published shapes: flat message rows (`message_id`, `parent_id`, `role`, `text`,
`rank`, `lang`, …, as on the hub) and the nested trees export (`prompt` with `replies`).
From the root prompt the conversation follows the best-ranked reply (lowest `rank`; unranked
replies after ranked ones, then file order) at every turn. The last assistant reply becomes
`reference.output`; an unanswered last prompt is dropped so the task keeps a reference.
Deleted messages and those that failed review are left out, with everything below them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from distill.records import Task
from distill.sources.common import BadRow, ImportContext, Row, text_field
from distill.sources.instructions import chat_task

_ROLES = {"prompter": "user", "assistant": "assistant"}


@dataclass
class _Node:
    id: str
    role: str
    text: str
    lang: str
    rank: int | None
    order: int
    tree: str
    parent: str | None = None
    replies: list[_Node] = field(default_factory=list)


def oasst1(rows: Iterable[Row], ctx: ImportContext) -> Iterator[Task]:
    """Flat message rows or nested trees; `--lang` keeps conversations in that language."""
    nodes: dict[str, _Node] = {}
    roots: list[_Node] = []
    flat: list[_Node] = []
    for row in rows:
        try:
            if isinstance(row.data.get("prompt"), dict):
                roots.append(_nested(row.data["prompt"], ctx, len(nodes), row.data, nodes))
            else:
                node = _node(row.data, len(nodes), ctx)
                if node is not None:
                    nodes[node.id] = node
                    flat.append(node)
        except BadRow as exc:
            ctx.bad(row.where, exc.reason, exc.message)
    for node in flat:
        if node.parent is None:
            roots.append(node)
        elif node.parent in nodes:
            nodes[node.parent].replies.append(node)
        else:
            ctx.skip("reply to a missing or removed message")
    lang = ctx.option("lang")
    for root in roots:
        if root.role != "user":
            ctx.skip("tree root is not a prompt")
            continue
        if lang and root.lang != lang:
            ctx.skip("other language")
            continue
        path = _best_path(root, lang)
        if len(path) > 1 and path[-1].role == "user":
            path = path[:-1]
        turns = [{"role": n.role, "content": n.text} for n in path]
        meta = {"message_tree_id": root.tree, "lang": root.lang, "turns": len(turns)}
        try:
            yield chat_task(ctx, turns, meta=meta)
        except BadRow as exc:
            ctx.skip(exc.reason)


def _best_path(root: _Node, lang: str | None) -> list[_Node]:
    path = [root]
    node = root
    while True:
        replies = [r for r in node.replies if not lang or r.lang == lang]
        if not replies:
            return path
        node = min(replies, key=lambda r: (r.rank is None, r.rank or 0, r.order))
        path.append(node)


def _node(data: dict[str, Any], order: int, ctx: ImportContext) -> _Node | None:
    """One message, or None when it was deleted or failed review (counted as skipped)."""
    if data.get("deleted") is True:
        ctx.skip("deleted message")
        return None
    if data.get("review_result") is False:
        ctx.skip("message failed review")
        return None
    role = _ROLES.get(text_field(data, "role"))
    if role is None:
        raise BadRow("bad 'role'", f"'role' must be prompter or assistant, got {data['role']!r}")
    rank = data.get("rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int | float)):
        raise BadRow("bad 'rank'", f"'rank' must be a number or null, got {rank!r}")
    parent = data.get("parent_id")
    return _Node(
        id=text_field(data, "message_id"),
        role=role,
        text=text_field(data, "text"),
        lang=text_field(data, "lang", required=False),
        rank=None if rank is None else int(rank),
        order=order,
        tree=text_field(data, "message_tree_id", required=False),
        parent=str(parent) if parent else None,
    )


def _nested(
    data: dict[str, Any],
    ctx: ImportContext,
    order: int,
    tree: dict[str, Any],
    nodes: dict[str, _Node],
) -> _Node:
    """A trees-export conversation; removed branches are cut here, as in the flat shape."""
    root = _node(data, order, ctx)
    if root is None:
        raise BadRow("removed root", "the tree's root prompt was deleted or failed review")
    root.tree = root.tree or text_field(tree, "message_tree_id", required=False)
    stack = [(root, data)]
    while stack:
        node, raw = stack.pop()
        replies = raw.get("replies") or []
        if not isinstance(replies, list):
            raise BadRow("bad 'replies'", "'replies' must be a list")
        for reply in replies:
            if not isinstance(reply, dict):
                raise BadRow("bad 'replies'", "each reply must be an object")
            child = _node(reply, len(nodes), ctx)  # file order among siblings
            if child is None:
                continue
            nodes[child.id] = child
            node.replies.append(child)
            stack.append((child, reply))
    return root
