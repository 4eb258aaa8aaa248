"""The Discord bot (`veilleur bot`): an adapter beside the command line and the service.

It turns what the gateway says into the engine's events (`events.py`), feeds them to the
same runtime as `veilleur serve` (`intake.py`), plans what to do with the engine's answer
under the server's policy (`policy.py`, `plan.py`) and carries it out through Discord, evidence
first (`execute.py`). `permissions.py` is the one table of what the bot may do, from which
the install link and `diagnose` follow. discord.py is imported by this package only.
"""
