"""Logging set-up for rule scripts: everything goes to the rule's ``log:`` file."""

from __future__ import annotations

import logging
import sys


def setup_script_logging(log_path: str | None, name: str = "alpscan") -> logging.Logger:
    """Send Python logging and stderr of a rule script to ``log_path``."""
    if log_path:
        stream = open(log_path, "w")  # noqa: SIM115 - lives as long as the script
        sys.stderr = stream
    else:
        stream = sys.stderr
    logging.basicConfig(stream=stream, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    return logging.getLogger(name)
