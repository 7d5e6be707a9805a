"""run_pipeline: harvest → grade → export under one config, as the nightly job runs them."""

from __future__ import annotations

from dataclasses import dataclass

from distill.config import Config
from distill.export import ExportResult, run_export
from distill.grade import GradeResult, run_grade
from distill.harvest import HarvestResult, run_harvest
from distill.harvest.runner import ProgressFn


@dataclass
class PipelineResult:
    harvest: HarvestResult
    grade: GradeResult
    export: ExportResult


def run_pipeline(config: Config, progress: ProgressFn | None = None) -> PipelineResult:
    harvested = run_harvest(config, progress)
    graded = run_grade(config)
    exported = run_export(config)
    return PipelineResult(harvested, graded, exported)
