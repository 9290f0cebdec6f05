"""The commands of ``kcoro-stream``, one module per group, each a thin layer over the library.

::

    cli.py (the click group; the one place errors become exit codes)
      └─ COMMANDS: live (run, attach, replay) · ctl · logs (log, validate) · catalog (pipelines,
         list, bench) · config · manifest · selftest · results (report, export, baseline, compare)
         · ab · history (history, runs)

A command's callback returns its exit code (or raises a ``KcoroStreamError``); it never calls
``sys.exit``. The pure parts are functions a test calls without click: ``choose_sinks`` (which
sinks a run gets), ``bench_args`` (the knobs as the C parser spells them), ``duration``, ``speed``.
Libraries are imported inside the callbacks, so ``--help`` and usage errors stay fast.
"""

from __future__ import annotations

import click

from . import ab, catalog, config, ctl, history, live, logs, manifest, results, selftest

__all__ = ["COMMANDS"]

# In the order `kcoro-stream --help` would list them if click did not sort them.
COMMANDS: tuple[click.Command, ...] = (
    live.run,
    live.attach,
    ctl.ctl,
    live.replay,
    logs.log,
    logs.validate,
    catalog.pipelines_,
    catalog.list_,
    catalog.bench,
    config.config_group,
    manifest.manifest_group,
    selftest.selftest,
    results.report_cmd,
    results.export_group,
    results.baseline_group,
    results.compare_cmd,
    ab.ab,
    history.history_group,
    history.runs_group,
)
