"""Export: graded samples → trainer-ready train/val splits and a manifest."""

from distill.export.runner import ExportResult, run_export

__all__ = ["ExportResult", "run_export"]
