"""Layered configuration (contract 8): files, the pipeline, the environment, flags → one resolver.

::

    defaults < user file < project file < --config < pipeline file < KCORO_STREAM_<SECTION>_<KEY> < flags
        └───────────────────── resolve() ─────────────────────► Effective (value + origin per key)
                                                                   ├─► analyses / launch / flags of a run
                                                                   └─► Mark("config") logged first; replay reads it

Sections, keys and ranges: ``_schema.py``; layers and origins: ``_resolve.py``;
what a run does with the result: ``_apply.py``; ``config show``/``check``
text: ``_show.py``. Nothing here is imported by a plain ``run`` unless a
configuration step is needed (the CLI imports it lazily).
"""

from ._apply import (
    RECORD_MARK,
    CommandFlags,
    RunPlan,
    analyses,
    analysis_kwargs,
    apply_to_replay,
    bench_args,
    bind_analyses,
    build_analyses,
    launch_changes,
    plan_run,
    record_mark,
    recorded_analyses,
    recorded_config,
    recorded_in,
)
from ._resolve import (
    ENV_PREFIX,
    Effective,
    Layer,
    Value,
    check_value,
    defaults_layer,
    env_layer,
    file_layer,
    parse_duration,
    project_layer,
    resolve,
    standard_layers,
    user_config_path,
)
from ._schema import ANALYSIS_SECTIONS, SECTIONS
from ._show import check_text, show_text

__all__ = [
    "ANALYSIS_SECTIONS",
    "ENV_PREFIX",
    "RECORD_MARK",
    "SECTIONS",
    "CommandFlags",
    "Effective",
    "Layer",
    "RunPlan",
    "Value",
    "analyses",
    "analysis_kwargs",
    "apply_to_replay",
    "bench_args",
    "bind_analyses",
    "build_analyses",
    "check_text",
    "check_value",
    "defaults_layer",
    "env_layer",
    "file_layer",
    "launch_changes",
    "parse_duration",
    "plan_run",
    "project_layer",
    "record_mark",
    "recorded_analyses",
    "recorded_config",
    "recorded_in",
    "resolve",
    "show_text",
    "standard_layers",
    "user_config_path",
]
