"""Detectors: pure functions of (event, keyed state) that emit signals. No I/O here."""

from veilleur.detect.base import (
    Context,
    Detector,
    DetectorSettings,
    Signal,
)
from veilleur.detect.registry import DetectorRegistry, default_registry

__all__ = [
    "Context",
    "Detector",
    "DetectorRegistry",
    "DetectorSettings",
    "Signal",
    "default_registry",
]
