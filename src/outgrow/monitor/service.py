"""The monitor ``outgrow.connect()`` attaches to its engine: the probe, and a recorder into the history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from outgrow.dialects import EngineDialect
from outgrow.monitor.history import HistoryStore
from outgrow.monitor.metrics import history_path_for
from outgrow.monitor.probe import Probe, instrument
from outgrow.monitor.recorder import Recorder
from outgrow.settings import Settings

__all__ = ["Monitor", "attach_monitor"]


@dataclass
class Monitor:
    probe: Probe
    recorder: Recorder | None  # None: no history (in-memory SQLite, or PostgreSQL without OUTGROW_HISTORY_PATH)

    def stop(self) -> None:
        """Flush one last time and stop the recorder's thread."""
        if self.recorder is not None:
            self.recorder.stop()


def attach_monitor(engine: Engine, settings: Settings, dialect: EngineDialect) -> Monitor:
    """Instrument ``engine`` and, when the database has a history, start recording into it."""
    probe = instrument(engine, slow_query_s=settings.slow_query_ms / 1000)
    path = history_path_for(settings)
    recorder = Recorder(probe, HistoryStore(path), settings, dialect).start() if path is not None else None
    return Monitor(probe, recorder)
