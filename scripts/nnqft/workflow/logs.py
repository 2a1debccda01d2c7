"""Logging of rule scripts: every rule has a ``log:`` file, and its script writes to it."""
from __future__ import annotations

import logging
import sys


def log_to(path) -> logging.Logger:
    """Send this process's log records, and the traceback of an uncaught exception, to ``path``
    (the rule's ``snakemake.log[0]``). Returns the logger rule scripts write to."""
    logging.basicConfig(filename=path, level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    logger = logging.getLogger("nnqft")
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        logger.error("failed: %s", exc, exc_info=(exc_type, exc, tb))
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    return logger
