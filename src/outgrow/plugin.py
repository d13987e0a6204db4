"""outgrow's tuning for engines an application builds itself, as a SQLAlchemy ``CreateEnginePlugin``.

    create_engine("sqlite:///app.db?plugin=outgrow")
    create_engine(url, plugins=["outgrow"])

The same per-connection pragmas and BEGIN handling as ``outgrow.connect()``, read from the ``OUTGROW_*``
settings; the application keeps its own URL, pool and options.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, CreateEnginePlugin, Engine

from outgrow.dialects import dialect_for
from outgrow.settings import Settings

__all__ = ["OutgrowPlugin"]


class OutgrowPlugin(CreateEnginePlugin):
    """Registered under the ``sqlalchemy.plugins`` entry point as ``outgrow``."""

    def __init__(self, url: URL, kwargs: dict[str, Any]) -> None:
        super().__init__(url, kwargs)
        # The application chose its database: DATABASE_URL and OUTGROW_TARGET_URL are not ours to read here.
        self.settings = Settings(database_url=None, target_url=None)
        self.dialect = dialect_for(url, self.settings)
        # Engine-level options (PostgreSQL's pre-ping and startup parameters) fill in only what the
        # application left unset: its own create_engine() arguments win.
        for name, value in self.dialect.plugin_engine_kwargs().items():
            if isinstance(value, dict):
                kwargs[name] = {**value, **kwargs.get(name, {})}
            else:
                kwargs.setdefault(name, value)

    def update_url(self, url: URL) -> URL:
        # outgrow reads its options from OUTGROW_* settings, not from the URL: nothing of ours to remove.
        return url

    def engine_created(self, engine: Engine) -> None:
        self.dialect.install(engine)
