"""Config: one TOML (or JSON) file → frozen, validated objects.

Unknown keys are errors that name the key, the file and the nearest valid key. Any value can be
overridden from the command line with `--set dotted.key=value` (the value is read as TOML, so
`--set export.val_fraction=0.2` is a float and `--set teachers.r1.model=deepseek-reasoner` a
string). Relative paths in the file are relative to the file's directory, so a cron job can run
from anywhere. Secrets never appear here: a teacher names the environment variable holding its key.

    schema    the tables (Config, TeacherConfig, ...)    export, train  their own tables
    fields    flag(): a key that is also a CLI flag      build          data → dataclasses
    validate  checks across keys                         load           files, overrides, paths
"""

from distill.config.export import EXPORT_FORMATS, REASONING_PLACEMENTS, ExportConfig
from distill.config.load import (
    config_to_dict,
    load_config,
    load_export_config,
    load_export_settings,
)
from distill.config.schema import (
    Config,
    GradeConfig,
    HarvestConfig,
    Limits,
    Price,
    PromptsConfig,
    Provider,
    RunConfig,
    SourceConfig,
    TeacherConfig,
    ThinkingDisplay,
)
from distill.config.train import StudentEvalConfig, TrainConfig
from distill.config.validate import validate_export, validate_train

__all__ = [
    "EXPORT_FORMATS",
    "REASONING_PLACEMENTS",
    "Config",
    "ExportConfig",
    "GradeConfig",
    "HarvestConfig",
    "Limits",
    "Price",
    "PromptsConfig",
    "Provider",
    "RunConfig",
    "SourceConfig",
    "StudentEvalConfig",
    "TeacherConfig",
    "ThinkingDisplay",
    "TrainConfig",
    "config_to_dict",
    "load_config",
    "load_export_config",
    "load_export_settings",
    "validate_export",
    "validate_train",
]
