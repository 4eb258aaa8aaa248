"""A registry of detector factories: built-ins, plus plug-ins from the entry point group
`veilleur.detectors` (a plug-in is one class and one line in its package metadata)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import entry_points

from veilleur.detect.base import Detector, DetectorSettings

DetectorFactory = Callable[[DetectorSettings], Detector]
ENTRY_POINT_GROUP = "veilleur.detectors"


class UnknownDetectorError(KeyError):
    pass


class DetectorRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, DetectorFactory] = {}

    def register(self, detector_id: str, factory: DetectorFactory) -> None:
        if detector_id in self._factories:
            raise ValueError(f"detector {detector_id!r} is already registered")
        self._factories[detector_id] = factory

    def ids(self) -> list[str]:
        return sorted(self._factories)

    def create(self, detector_id: str, settings: DetectorSettings) -> Detector:
        try:
            factory = self._factories[detector_id]
        except KeyError:
            known = ", ".join(self.ids()) or "none"
            raise UnknownDetectorError(
                f"unknown detector {detector_id!r} (known: {known})"
            ) from None
        return factory(settings)

    def create_all(
        self, settings: DetectorSettings, ids: Iterable[str] | None = None
    ) -> list[Detector]:
        return [self.create(i, settings) for i in (self.ids() if ids is None else ids)]

    def load_plugins(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in self._factories:
                self.register(ep.name, ep.load())


def default_registry(*, plugins: bool = True) -> DetectorRegistry:
    from veilleur.detect.conversation.detector import ConversationDetector
    from veilleur.detect.media.detector import HashMatchDetector
    from veilleur.detect.network.detector import NetworkDetector
    from veilleur.detect.places import PlacesDetector
    from veilleur.detect.text.detector import TextDetector
    from veilleur.detect.text.learned import LearnedDetector

    registry = DetectorRegistry()
    registry.register(TextDetector.id, TextDetector.from_settings)
    registry.register(LearnedDetector.id, LearnedDetector.from_settings)
    registry.register(HashMatchDetector.id, HashMatchDetector.from_settings)
    registry.register(ConversationDetector.id, ConversationDetector.from_settings)
    registry.register(NetworkDetector.id, NetworkDetector.from_settings)
    registry.register(PlacesDetector.id, PlacesDetector.from_settings)
    if plugins:
        registry.load_plugins()
    return registry
