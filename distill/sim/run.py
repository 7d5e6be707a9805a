"""Running a simulator for a test or a benchmark: on a thread of this process, or in its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from distill.errors import DistillError
from distill.sim.app import TeacherSim
from distill.sim.config import SimConfig


@contextlib.contextmanager
def running_sim(config: SimConfig | None = None) -> Iterator[str]:
    """Run a simulator on a background thread with its own event loop; yield its URL + /v1."""
    sim = TeacherSim(config)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(sim.stop())
            loop.close()

    thread = threading.Thread(target=serve, name="distill-teacher-sim", daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        raise failure[0]
    try:
        yield sim.url + "/v1"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


@contextlib.contextmanager
def sim_process(*cli_args: str) -> Iterator[str]:
    """Run `python -m distill.sim` in a subprocess (its own GIL); yield its URL + /v1."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="distill-sim-") as tmp:
        port_file, err_file = Path(tmp) / "port", Path(tmp) / "stderr"
        with err_file.open("wb") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distill.sim",
                    *cli_args,
                    "--port",
                    "0",
                    "--port-file",
                    str(port_file),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
        try:
            deadline = time.monotonic() + 20.0
            while not port_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    lines = err_file.read_text(errors="replace").strip().splitlines()
                    why = lines[-1] if lines else f"exit status {proc.returncode}"
                    raise DistillError(f"teacher simulator subprocess did not start: {why}")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{int(port_file.read_text())}/v1"
        finally:
            proc.terminate()
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
