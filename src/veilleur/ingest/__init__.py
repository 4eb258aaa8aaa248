"""Adapters that turn input files into events: DiscordChatExporter JSON and the JSONL event log."""

from veilleur.ingest.discover import InputFile, discover_inputs, read_input
from veilleur.ingest.problems import InputProblem, ProblemLog

__all__ = ["InputFile", "InputProblem", "ProblemLog", "discover_inputs", "read_input"]
