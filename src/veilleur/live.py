"""An engine and casework that live on a database: what `scan --cases` and `veilleur serve`
both run. Detectors see the stored banks and keep their memory in the store; casework reads
what this process saw first, then the store (which lags the writer's buffer), and takes up
the stored cases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine as Database

from veilleur.cases.casework import Casework
from veilleur.cases.config import CasePolicy, load_case_policy
from veilleur.cases.content import ContentIndex
from veilleur.detect.base import DetectorSettings
from veilleur.detect.media.matcher import BankMatcher, combine
from veilleur.enforce.evidence import EvidenceKey
from veilleur.engine import DetectorFailure, Engine
from veilleur.store.banks import BankStore, default_index_dir
from veilleur.store.casework import load_casework
from veilleur.store.content import LayeredContent, LayeredState, StoredContent
from veilleur.store.memory import StoredMemory
from veilleur.store.writer import StoreWriter


def stored_settings(settings: DetectorSettings, db: Database, db_url: str, *,
                    index_dir: Path | None = None,
                    extra: BankMatcher | None = None) -> DetectorSettings:
    """Detector settings that match against the stored banks (and `extra`) and keep the
    detectors' memory in the store."""
    folder = index_dir or (default_index_dir(db_url) if db_url != "sqlite://" else None)
    stored = BankStore(db, folder).matcher()
    matcher = combine([m for m in (settings.matcher, stored, extra) if m is not None])
    settings = replace(settings, matcher=matcher)
    if settings.memory is None:
        settings = replace(settings, memory=StoredMemory(db))
    return settings


def fresh_content(engine: Engine, policy: CasePolicy) -> ContentIndex:
    return ContentIndex(engine.directory, recent_per_channel=policy.guild_messages,
                        recent_per_user=policy.user_messages)


def live_casework(db: Database, key: EvidenceKey, settings: DetectorSettings, *,
                  writer: StoreWriter, on_failure: DetectorFailure | None = None,
                  policy: CasePolicy | None = None, lease: str | None = None) -> Casework:
    """`lease`: the service's token (`store.lease`); anyone else is refused while a service
    holds the database."""
    engine = Engine.build(settings, store=writer, state=LayeredState(db),
                          on_detector_failure=on_failure)
    policy = policy or load_case_policy(settings.policy_dir)
    content = LayeredContent(fresh_content(engine, policy), StoredContent(db, engine.directory))
    return load_casework(db, key, policy=policy, engine=engine, content=content, lease=lease)
