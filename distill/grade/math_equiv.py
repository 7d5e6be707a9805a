"""Symbolic equivalence through math-verify, in a worker process of our own with a hard timeout.

math-verify times itself out with `signal.alarm`, which works only in a main thread, and sympy can
hang past any alarm inside C code. So each grading process lazily starts one child (a fresh
interpreter: no fork of a threaded grader, no re-import of the caller's `__main__`) that runs
`parse`/`verify` with math-verify's own timeouts off; the parent waits `timeout_s` of wall-clock
time and, past it, kills the child and starts a fresh one. One child per grading process is enough:
a grader grades one answer at a time, and the runner already runs one grading process per core.
Requests and results cross the pipe as JSON lines; nothing from the child is unpickled.

Once parsed, two exact numbers (no floats, no symbols: `\\sin\\frac{\\pi}{6}`, `1/2004!`) are
compared at 50 digits instead of verified (rule `sympy_eval`: equal within 1e-30 relative, and
two rationals such as `100!` and `100!+1` exactly):
math-verify would reach the same verdict after a costly simplify(), except that it compares tiny
values absolutely and takes `1/2004!` for `1/2006!`. (Simpler exact numbers never get here:
`answer_exact.exact_gap` settles them in the grading process.)

The child also guards math-verify's known false positives (research/graders.md §3.1); a guard can
only turn an "equal" into "different", never the reverse:
- `precision`: math-verify rounds floats to 6 decimals, so `10^-8` = `0.00000002`; a float side
  must agree relatively within max(rel_tol, 1e-5) at 50 digits.
- `set_vs_interval`: `{1,2}` was taken to equal the open interval `(1,2)`.
- `truncated_parse`: its unit stripping can cut an expression mid-brace (`1 - \\frac{1}{\\text{e}}`
  became `1 - \\frac{1}{`, so `1 - 1/e` = `1 + 1/e`); a parse with unbalanced braces is not trusted.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from distill.grade.answer_exact import EXACT_TOL

STARTUP_TIMEOUT_S = 60.0  # importing sympy on a loaded machine; not charged to the comparison
GOLD_CACHE_SIZE = 4096  # parsed golds, in the child
RESULT_CACHE_SIZE = 4096  # finished comparisons, in the grading process
MEMORY_LIMIT = 2 * 1024**3  # address space of the child, where the OS allows
FLOAT_TOL = 1e-5  # math-verify's 6-decimal rounding, held to a relative bound
_ROOT = str(Path(__file__).resolve().parents[2])  # so the child imports this same distill


@dataclass(frozen=True, slots=True)
class MathResult:
    outcome: str  # equal | different | unparseable_gold | timeout | crashed
    rule: str = "math_verify"  # or sympy_eval: decided at 50 digits without verify()
    guard: str = ""  # the guard that overturned math-verify's "equal"
    gold: str = ""  # the parsed gold and prediction, as sympy prints them
    pred: str = ""
    error: str = ""


def compare(gold: str, pred: str, *, timeout_s: float = 5.0, rel_tol: float = 1e-6) -> MathResult:
    """Is `pred` mathematically equal to `gold`? Both are bare LaTeX/expressions, no prose."""
    key = (gold, pred, rel_tol)
    with _lock:
        cached = _results.get(key)
        if cached is not None:
            _results.move_to_end(key)
    if cached is not None:  # the k samples of one task often write the answer the same way
        return cached
    result = _compare_in_worker(gold, pred, timeout_s, rel_tol)
    if result.outcome not in ("timeout", "crashed"):  # failures may be load: try them again
        with _lock:
            _results[key] = result
            if len(_results) > RESULT_CACHE_SIZE:
                _results.popitem(last=False)
    return result


def _compare_in_worker(gold: str, pred: str, timeout_s: float, rel_tol: float) -> MathResult:
    global _worker
    with _lock:
        worker = _worker
        if worker is None or worker.owner != os.getpid():
            try:
                worker = _worker = _Worker()
            except OSError as exc:
                return MathResult("crashed", error=f"cannot start math-verify worker: {exc}")
        try:
            return worker.call({"gold": gold, "pred": pred, "rel_tol": rel_tol}, timeout_s)
        except TimeoutError:
            outcome, error = "timeout", f"no result within {timeout_s:g}s"
        except _WorkerFailed as exc:
            outcome, error = "crashed", str(exc)
        worker.kill()
        try:  # replace it now, so its imports overlap the fast-path answers that come next
            _worker = _Worker()
        except OSError:
            _worker = None  # the next comparison tries again
        return MathResult(outcome, error=error[:500])


def shutdown() -> None:
    """Stop this process's worker and forget its results (tests, benchmarks; exit stops it too)."""
    global _worker
    with _lock:
        _results.clear()
        if _worker is not None and _worker.owner == os.getpid():
            _worker.kill()
        _worker = None


class _WorkerFailed(Exception):
    pass


class _Worker:
    def __init__(self) -> None:
        self.owner = os.getpid()
        code = f"import sys; sys.path.insert(0, {_ROOT!r}); import {__name__} as m; m._serve()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin = self.proc.stdin
        # A reader thread turns the pipe into a queue with a timeout, on every platform.
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        self.ready = False

    def _receive(self, timeout_s: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=max(timeout_s, 0.0))
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            raise _WorkerFailed(f"math-verify worker exited ({self.proc.poll()})")
        reply = json.loads(line)
        assert isinstance(reply, dict)
        return reply

    def call(self, request: dict[str, Any], timeout_s: float) -> MathResult:
        if not self.ready:
            try:
                hello = self._receive(STARTUP_TIMEOUT_S)
            except TimeoutError:
                raise _WorkerFailed("math-verify worker did not start") from None
            if hello.get("ready") is not True:
                raise _WorkerFailed(f"math-verify worker failed to start: {hello.get('error')}")
            self.ready = True
        try:
            self.stdin.write(json.dumps(request) + "\n")
            self.stdin.flush()
        except OSError as exc:
            raise _WorkerFailed(f"math-verify worker is gone: {exc}") from None
        return MathResult(**self._receive(timeout_s))

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        with contextlib.suppress(OSError):  # a request still buffered for a dead pipe
            self.stdin.close()


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)
    stream.close()


_worker: _Worker | None = None
_lock = threading.Lock()
_results: OrderedDict[tuple[str, str, float], MathResult] = OrderedDict()


def _after_fork_in_child() -> None:
    # A forked copy must neither share the parent's pipe nor inherit a held lock.
    global _worker, _lock
    _worker, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --- the child ----------------------------------------------------------------------------------


def _serve() -> None:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a stray print from sympy must not corrupt the protocol
    try:  # `10^{10^{10}}` evaluated exactly would take the machine's memory, not just time
        import resource

        resource.setrlimit(
            resource.RLIMIT_AS, (MEMORY_LIMIT, resource.getrlimit(resource.RLIMIT_AS)[1])
        )
    except (ImportError, ValueError, OSError):
        pass  # Windows, or a lower hard limit already
    try:
        _setup()
    except Exception as exc:  # report rather than die silently: the parent turns it into `error`
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = _compare_here(request["gold"], request["pred"], request["rel_tol"])
        except Exception as exc:
            result = MathResult("crashed", error=f"{type(exc).__name__}: {exc}"[:500])
        out.write(json.dumps(asdict(result)) + "\n")
        out.flush()


# Imported in the child only (the grading process never loads sympy); untyped, hence Any.
_mv: Any = None
_sympy: Any = None
_CONFIG: list[Any] = []


def _setup() -> None:
    global _mv, _sympy
    _mv = importlib.import_module("math_verify")
    _sympy = importlib.import_module("sympy")
    latex = importlib.import_module("latex2sympy2_extended.latex2sympy2")
    # Our own timeout replaces math-verify's; its one-time warning about that is noise here.
    for name in ("math_verify.parser", "math_verify.grader"):
        module: Any = importlib.import_module(name)
        module.TIMEOUT_WARNING_SHOWN = True
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    # The math-verify README's settings for rewards: no "fixing" of malformed operators.
    norm = latex.NormalizationConfig(
        basic_latex=True,
        units=True,
        malformed_operators=False,
        nits=False,
        boxed="all",
        equations=False,
    )
    _CONFIG[:] = [
        _mv.LatexExtractionConfig(boxed_match_priority=0, normalization_config=norm),
        _mv.ExprExtractionConfig(),
    ]


def _parse(text: str) -> list[Any]:
    # Our extractor already found the answer; boxing it makes math-verify take all of it.
    return list(_mv.parse("\\boxed{" + text + "}", _CONFIG, parsing_timeout=None))


@lru_cache(maxsize=GOLD_CACHE_SIZE)
def _parse_gold(gold: str) -> list[Any]:
    return _parse(gold)


def _compare_here(gold_text: str, pred_text: str, rel_tol: float) -> MathResult:
    gold = _parse_gold(gold_text)
    gold_expr = _first_expr(gold)
    if gold_expr is None or _truncated(gold):
        return MathResult("unparseable_gold", gold=_show(gold))
    pred = _parse(pred_text)
    pred_expr = _first_expr(pred)
    shown = {"gold": str(gold_expr)[:200], "pred": _show(pred)}
    if _truncated(pred):
        return MathResult("different", guard="truncated_parse", **shown)
    gap = _gap(gold_expr, pred_expr)
    if gap is not None and gap[1]:  # two exact numbers: 50 digits settle it, no simplify()
        equal = bool(gap[0] <= EXACT_TOL)
        if equal and gold_expr.is_rational and pred_expr.is_rational:  # `100!` vs `100!+1`
            equal = bool((gold_expr - pred_expr).doit() == 0)
        return MathResult("equal" if equal else "different", rule="sympy_eval", **shown)
    if not _mv.verify(gold, pred, timeout_seconds=None):
        return MathResult("different", **shown)
    guard = _guard(gold_expr, pred_expr, gap, rel_tol)
    return MathResult("different" if guard else "equal", guard=guard, **shown)


def _first_expr(parsed: list[Any]) -> Any:
    return next((x for x in parsed if not isinstance(x, str)), None)


def _show(parsed: list[Any]) -> str:
    return str(parsed[0])[:200] if parsed else ""


def _truncated(parsed: list[Any]) -> bool:
    return any(isinstance(x, str) and x.count("{") != x.count("}") for x in parsed)


def _gap(gold: Any, pred: Any) -> tuple[float, bool] | None:
    """(|gold - pred| / max(|gold|, |pred|) at 50 digits, both exact) for two finite numbers."""
    if not (isinstance(gold, _sympy.Expr) and isinstance(pred, _sympy.Expr)):
        return None
    if gold.free_symbols or pred.free_symbols:
        return None
    try:  # strict: a value evalf cannot pin down (sin(pi) → "0.e-119") is left to math-verify
        a, b = gold.evalf(50, strict=True), pred.evalf(50, strict=True)
    except Exception:  # PrecisionExhausted, or sympy failing on an odd expression
        return None
    if not all(x.is_number and x.is_finite for x in (a, b)):
        return None  # oo, nan, or an unevaluated function
    # sympy Floats, not Python floats, up to the ratio: 1/2004! underflows a double to 0
    diff, scale = abs(a - b), max(abs(a), abs(b))
    if not (diff.is_Number and scale.is_Number):
        return None
    exact = not (gold.has(_sympy.Float) or pred.has(_sympy.Float))
    return (float(diff / scale) if scale else float(diff)), exact


def _guard(gold: Any, pred: Any, gap: tuple[Any, bool] | None, rel_tol: float) -> str:
    """Why math-verify's "equal" is wrong, or "" when it stands."""
    kinds = {type(gold), type(pred)}
    if any(issubclass(k, _sympy.FiniteSet) for k in kinds) and any(
        issubclass(k, _sympy.Interval) for k in kinds
    ):
        return "set_vs_interval"
    if gap is not None and not gap[0] <= max(rel_tol, FLOAT_TOL):  # a float side
        return "precision"
    return ""
