"""A local teacher SIMULATOR: OpenAI- and Anthropic-compatible, for demos, tests and benchmarks.

Not a model: canned, deterministic answers with a real teacher's latency, rate limits and faults.

    config.py   SimConfig, the validated settings        app.py     TeacherSim: routes and replies
    server.py   HTTP/1.1 on h11, raw bytes for faults     wire.py    OpenAI/Anthropic bodies, errors
    answers.py  deterministic answers to known tasks      limits.py  latency, RPM/TPM, /stats
    run.py      running_sim (a thread), sim_process       cli.py     `distill teacher-sim` options
    routes.py   the route table, with path parameters     answering.py  body in, answer out
    prompt_cache.py  Anthropic markers, OpenAI automatic  padding.py    long reasoning traces
    files.py    /v1/files (multipart) for OpenAI batches  batchcore.py  item fates, timelines
    openai_batches.py  /v1/batches                        anthropic_batches.py  /v1/messages/batches
"""

from distill.sim.app import DEFAULT_MAX_TOKENS, SAMPLE_INDEX_HEADER, TeacherSim
from distill.sim.cli import add_sim_arguments, config_from_args, main, run_sim_from_args
from distill.sim.config import FAULTS, SimConfig
from distill.sim.limits import Latency
from distill.sim.run import running_sim, sim_process

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FAULTS",
    "SAMPLE_INDEX_HEADER",
    "Latency",
    "SimConfig",
    "TeacherSim",
    "add_sim_arguments",
    "config_from_args",
    "main",
    "run_sim_from_args",
    "running_sim",
    "sim_process",
]
