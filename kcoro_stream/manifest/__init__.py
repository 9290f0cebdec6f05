"""Run-profile manifests: YAML steps (sweeps, warm-ups, repeats) run unattended into a results directory.

::

    manifest.yaml ──load_manifest──► Manifest (every run planned, configured and checked; nothing run)
                                       └─ run_manifest(DIR) ─► runloop.run per run ─► DIR/<run>/ (an ordinary
                                                                                      run directory) + DIR/index.json

``_load.py`` parses (ruamel.yaml: line and column of every node, duplicate
keys refused) and expands ``matrix:``/``exclude:``; ``_run.py`` runs and
keeps the index (contract 9). The YAML loader is imported only here.
"""

from ._load import Manifest, PlannedRun, load_manifest, plan_text
from ._run import INDEX, ManifestResult, run_manifest, stderr_progress

__all__ = [
    "INDEX",
    "Manifest",
    "ManifestResult",
    "PlannedRun",
    "load_manifest",
    "plan_text",
    "run_manifest",
    "stderr_progress",
]
