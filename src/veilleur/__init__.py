"""Veilleur: a child-safety engine for chat platforms."""

__version__ = "0.1.0"
