"""Alert rules evaluated on each history sample, their state kept in the history (any process may sample)."""

from __future__ import annotations

import logging

from outgrow.monitor.alerts import AlertEvaluator, AlertEvent, AlertRule, default_rules, deliver
from outgrow.monitor.history import HistoryStore
from outgrow.monitor.metrics import snapshot_from_window
from outgrow.monitor.snapshot import MetricsSnapshot
from outgrow.monitor.webhook import Webhook
from outgrow.settings import Settings

__all__ = ["ALERT_WINDOW_S", "after_sample", "evaluate_alerts"]

log = logging.getLogger("outgrow.alerts")
#: Latency and contention rules read the last 5 minutes, as the shipped Prometheus rules' rate(...[5m]) do.
ALERT_WINDOW_S = 300.0
_STATE_KEY = "evaluator"


def after_sample(store: HistoryStore, settings: Settings, system: str, now: float,
                 figures: dict[str, int | None], database: str = "") -> list[AlertEvent]:
    """Evaluate the alert rules on the window ending with the sample just taken."""
    window = store.window(now - ALERT_WINDOW_S, now)
    operations = {fid: row.operation for fid, row in store.fingerprints().items()}
    live = store.live_processes(now - 3 * settings.monitor_flush_s)
    snapshot = snapshot_from_window(window, operations, figures, live, engine=system, database=database, now=now,
                                    window_s=ALERT_WINDOW_S)
    return evaluate_alerts(store, settings, snapshot, now)


def evaluate_alerts(store: HistoryStore, settings: Settings, snapshot: MetricsSnapshot, now: float,
                    rules: list[AlertRule] | None = None) -> list[AlertEvent]:
    """Advance the rules' saved states with ``snapshot``; log and deliver the transitions."""
    rules = rules if rules is not None else default_rules(settings)
    saved = store.alert_states().get(_STATE_KEY)
    evaluator = AlertEvaluator.from_json(rules, saved) if saved else AlertEvaluator(rules)
    events = evaluator.evaluate(snapshot, now)
    store.save_alerts({_STATE_KEY: evaluator.states_to_json()},
                      [(e.at, e.rule, e.state, e.value, e.threshold, e.message) for e in events])
    deliver(events, logger=log, webhook=Webhook.from_settings(settings))
    return events


def alert_states(store: HistoryStore, settings: Settings) -> AlertEvaluator:
    """The rules with their saved states (inactive when never evaluated)."""
    rules = default_rules(settings)
    saved = store.alert_states().get(_STATE_KEY)
    return AlertEvaluator.from_json(rules, saved) if saved else AlertEvaluator(rules)
