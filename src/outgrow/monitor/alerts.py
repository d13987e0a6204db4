"""Alert rules over a :class:`MetricsSnapshot`, evaluated as Prometheus does, and the delivery of their changes.

Why our own evaluator when ``deploy/prometheus/outgrow-rules.yml`` holds the same four rules: an application
without Prometheus (a single SQLite file on one server) still deserves to hear that it is outgrowing SQLite.
The thresholds are the settings ``alert_*``; the state machine is Prometheus' (``rules/alerting.go``):

* the condition starts holding: ``inactive`` → ``pending`` (straight to ``firing`` when ``for_s`` is 0);
* it has held for ``for_s`` seconds or more at an evaluation: ``pending`` → ``firing``;
* it stops holding while ``firing``: a ``resolved`` event, and the rule is ``inactive`` again;
* it stops holding while ``pending``: ``inactive`` again, silently (nothing had been announced).

A rule whose figure the snapshot does not have (None: no statements in the window, no WAL on PostgreSQL) is
not breached. Each transition is one :class:`AlertEvent`; :func:`deliver` logs every event and sends each
batch in one signed POST (:mod:`outgrow.monitor.webhook`). The states are plain data, so the caller keeps
them across restarts with :meth:`AlertEvaluator.states_to_json` and :meth:`AlertEvaluator.from_json`.
"""

from __future__ import annotations

import json
import logging
import math
import time
import types
import typing
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal

from outgrow.errors import ConfigurationError, OutgrowError
from outgrow.monitor.snapshot import MetricsSnapshot
from outgrow.monitor.webhook import DeliveryResult, Webhook
from outgrow.settings import Settings

__all__ = ["AlertEvaluator", "AlertEvent", "AlertRule", "AlertState", "default_rules", "deliver"]

Unit = Literal["bytes", "seconds", "ratio"]
State = Literal["inactive", "pending", "firing"]
EventState = Literal["pending", "firing", "resolved"]

_UNITS = typing.get_args(Unit)
_STATES = typing.get_args(State)
_STATE_FORMAT = 1  # version of states_to_json(): from_json() refuses others rather than guess


@dataclass(frozen=True)
class AlertRule:
    """One condition: the snapshot's ``metric`` above ``threshold`` for ``for_s`` seconds."""

    name: str  # e.g. "DatabaseTooLarge", the same as the Prometheus alert
    metric: str  # dotted path into MetricsSnapshot: "size_bytes", "statements.p95_s", "contention.busy_rate"
    threshold: float
    for_s: float
    summary: str  # a sentence with {value_text} and {threshold_text}
    unit: Unit
    severity: str = "warning"

    def __post_init__(self) -> None:
        # A typo in a metric path would otherwise read None forever: a rule that silently never fires.
        _check_metric_path(self.name, self.metric)
        if self.unit not in _UNITS:
            raise ConfigurationError(f"alert rule {self.name}: unit {self.unit!r} is not one of {', '.join(_UNITS)}")
        if self.for_s < 0 or not math.isfinite(self.threshold):
            raise ConfigurationError(f"alert rule {self.name}: needs for_s >= 0 and a finite threshold",
                                     hint=f"got for_s={self.for_s!r}, threshold={self.threshold!r}")

    def value(self, snapshot: MetricsSnapshot) -> float | None:
        """The snapshot's figure for this rule, or None when it has none."""
        current: Any = snapshot
        for part in self.metric.split("."):
            current = getattr(current, part)
            if current is None:
                return None
        value = float(current)
        return value if math.isfinite(value) else None

    def breached(self, value: float | None) -> bool:
        return value is not None and value > self.threshold

    def text(self, value: float) -> str:
        """``value`` in this rule's human unit: ``812.3 MB``, ``213 ms``, ``2.5%``."""
        return _human(value, self.unit)


def default_rules(settings: Settings) -> list[AlertRule]:
    """The four rules of ``deploy/prometheus/outgrow-rules.yml``, with the thresholds of ``settings``."""
    for_s = settings.alert_for_s
    return [
        AlertRule("DatabaseTooLarge", "size_bytes", settings.alert_db_size_bytes, for_s,
                  "the database is {value_text}, over {threshold_text}", "bytes"),
        AlertRule("SlowQueries", "statements.p95_s", settings.alert_p95_ms / 1000, for_s,
                  "the statements' p95 is {value_text}, over {threshold_text}", "seconds"),
        AlertRule("WriteContention", "contention.busy_rate", settings.alert_busy_rate, for_s,
                  "{value_text} of write transactions met a busy database, over {threshold_text}", "ratio"),
        AlertRule("WalTooLarge", "wal_bytes", settings.alert_wal_bytes, for_s,
                  "the WAL file is {value_text}, over {threshold_text}", "bytes"),
    ]


@dataclass(frozen=True)
class AlertState:
    """Where one rule stands. Times are Unix seconds; ``since`` is None before the first evaluation."""

    rule: str
    state: State = "inactive"
    since: float | None = None  # when the current state began
    active_since: float | None = None  # when the condition began to hold (None while inactive)
    value: float | None = None  # the figure at the last evaluation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        state = data.get("state")
        if state not in _STATES:
            raise ValueError(f"state {state!r} is not one of {', '.join(_STATES)}")
        return cls(rule=str(data["rule"]), state=typing.cast(State, state), since=_optional_float(data.get("since")),
                   active_since=_optional_float(data.get("active_since")), value=_optional_float(data.get("value")))


@dataclass(frozen=True)
class AlertEvent:
    """One transition of one rule; ``message`` is a sentence for a person, in human units."""

    rule: str
    state: EventState
    value: float | None  # the figure that caused it (on "resolved", the last one; None if it disappeared)
    threshold: float
    at: float  # Unix time of the evaluation
    message: str
    severity: str = "warning"
    active_since: float | None = None  # when the condition began to hold
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-safe data: what the webhook receives."""
        data = asdict(self)
        data["value"] = self.value if self.value is not None and math.isfinite(self.value) else None
        return data


class AlertEvaluator:
    """Evaluates rules against successive snapshots and returns the transitions (not thread-safe)."""

    def __init__(self, rules: Iterable[AlertRule], states: Iterable[AlertState] = ()) -> None:
        self.rules = list(rules)
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigurationError(f"alert rules named twice: {', '.join(duplicates)}")
        # States of rules that no longer exist are dropped: nothing could resolve them.
        known = {state.rule: state for state in states if state.rule in names}
        self._states = {name: known.get(name, AlertState(name)) for name in names}

    @property
    def states(self) -> list[AlertState]:
        """Each rule's state, in rule order."""
        return [self._states[rule.name] for rule in self.rules]

    def evaluate(self, snapshot: MetricsSnapshot, now: float) -> list[AlertEvent]:
        """Advance every rule to ``now`` with ``snapshot``'s figures; return the transitions, in rule order."""
        events: list[AlertEvent] = []
        for rule in self.rules:
            state, event = _step(rule, self._states[rule.name], rule.value(snapshot), now)
            self._states[rule.name] = state
            if event is not None:
                events.append(replace(event, labels={"alertname": rule.name, "severity": rule.severity,
                                                     "engine": snapshot.engine, "database": snapshot.database}))
        return events

    def states_to_json(self) -> str:
        return json.dumps({"format": _STATE_FORMAT, "states": [state.to_dict() for state in self.states]})

    @classmethod
    def from_json(cls, rules: Iterable[AlertRule], text: str) -> AlertEvaluator:
        """An evaluator resuming from :meth:`states_to_json`'s output."""
        try:
            data = json.loads(text)
            if data.get("format") != _STATE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {_STATE_FORMAT}")
            states = [AlertState.from_dict(item) for item in data["states"]]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise OutgrowError(f"saved alert states cannot be read: {exc}",
                               hint="discard them; every rule then starts from inactive") from None
        return cls(rules, states)


def deliver(events: Iterable[AlertEvent], *, logger: logging.Logger, webhook: Webhook | None
            ) -> list[DeliveryResult]:
    """Log every event (WARNING when firing, INFO otherwise) and POST them all to ``webhook`` in one body.

    Never raises for a webhook that fails: the failure is logged as an error and returned.
    """
    batch = list(events)
    for event in batch:
        logger.log(logging.WARNING if event.state == "firing" else logging.INFO, "alert %s", event.message,
                   extra={"alert": event.to_dict()})
    if not batch or webhook is None:
        return []
    body = {"alerts": [event.to_dict() for event in batch], "sent_at": time.time()}
    result = webhook.post_json(body)
    if result.ok:
        logger.debug("alert webhook %s took %d alert(s) (HTTP %s)", result.target, len(batch), result.status)
    else:
        logger.error("alert webhook %s failed after %d attempt(s): %s; %d alert(s) not delivered",
                     result.target, result.attempts, result.error, len(batch))
    return [result]


def _step(rule: AlertRule, current: AlertState, value: float | None, now: float
          ) -> tuple[AlertState, AlertEvent | None]:
    """One evaluation of one rule: the new state and the event it emits, if any."""
    if not rule.breached(value):
        if current.state == "firing":
            return AlertState(rule.name, "inactive", now, None, value), _event(rule, "resolved", value, now, None)
        if current.state == "pending":
            return AlertState(rule.name, "inactive", now, None, value), None  # never announced: nothing to take back
        return replace(current, since=now if current.since is None else current.since, value=value), None
    if current.state == "inactive":
        state: Literal["pending", "firing"] = "firing" if rule.for_s <= 0 else "pending"
        return AlertState(rule.name, state, now, now, value), _event(rule, state, value, now, now)
    active_since = current.active_since if current.active_since is not None else now
    if current.state == "pending" and now - active_since >= rule.for_s:
        return (AlertState(rule.name, "firing", now, active_since, value),
                _event(rule, "firing", value, now, active_since))
    return replace(current, active_since=active_since, value=value), None


def _event(rule: AlertRule, state: EventState, value: float | None, now: float, active_since: float | None
           ) -> AlertEvent:
    threshold_text = rule.text(rule.threshold)
    if state == "resolved":
        if value is None:
            sentence = f"the snapshot no longer has a {rule.metric} figure"
        else:
            sentence = f"now {rule.text(value)}, not over {threshold_text}"
    else:
        assert value is not None  # a breach has a value
        sentence = rule.summary.format(value_text=rule.text(value), threshold_text=threshold_text)
        if state == "pending":
            sentence += f" (firing if it holds for {_duration_text(rule.for_s)})"
        elif rule.for_s > 0:
            sentence += f" for {_duration_text(rule.for_s)}"
    message = f"{rule.name} {state}: {sentence}."
    return AlertEvent(rule.name, state, value, rule.threshold, now, message, rule.severity, active_since)


def _human(value: float, unit: Unit) -> str:
    if unit == "bytes":
        return f"{value / 1e6:.1f} MB"  # decimal MB, as the seed's "800 MB" threshold is 800_000_000 bytes
    if unit == "seconds":
        ms = value * 1000
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    return f"{value * 100:.1f}%"


def _duration_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _check_metric_path(rule: str, metric: str) -> None:
    owner: Any = MetricsSnapshot
    for depth, part in enumerate(parts := metric.split(".")):
        hints = typing.get_type_hints(owner) if is_dataclass(owner) else {}
        names = {f.name for f in fields(owner)} if is_dataclass(owner) else set()
        if part not in names:
            raise ConfigurationError(f"alert rule {rule}: MetricsSnapshot has no figure {metric!r}",
                                     hint="name a numeric field, e.g. size_bytes or statements.p95_s")
        kind = hints[part]
        if isinstance(kind, types.UnionType):  # "X | None": the figure may be missing, which value() allows
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        if depth == len(parts) - 1 and kind not in (int, float):
            raise ConfigurationError(f"alert rule {rule}: {metric!r} is not a number")
        owner = kind
