"""The command line, `veilleur`: `root.py` holds the app and registers the command modules
(`scan.py`, `banks.py`, `cases.py`, `compliance.py`, `service.py`, `schema.py`, `eval.py`,
`train.py`); what several of them share is in `common.py`."""

from veilleur.cli.root import app, main

__all__ = ["app", "main"]
