"""Export: graded samples and datasets → trainer-ready train/val splits and a manifest."""

from distill.export.runner import ExportResult, run_export, run_standalone_export

__all__ = ["ExportResult", "run_export", "run_standalone_export"]
