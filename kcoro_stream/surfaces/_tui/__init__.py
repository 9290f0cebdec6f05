"""The terminal dashboard's parts: state (plain data), widgets (panes), app (host)."""

from .app import KEYS, DashboardApp, TuiHandle, run_tui
from .state import DashboardState, summary_lines

__all__ = ["KEYS", "DashboardApp", "DashboardState", "TuiHandle", "run_tui", "summary_lines"]
