"""Alert rules: the Prometheus-like state machine with exact events and times, and webhook delivery to a real
local HTTP server (signature checked by the server, retries counted)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from outgrow.errors import ConfigurationError, OutgrowError
from outgrow.monitor.alerts import AlertEvaluator, AlertEvent, AlertRule, AlertState, default_rules, deliver
from outgrow.monitor.histogram import Histogram
from outgrow.monitor.snapshot import ConnectionFigures, ContentionFigures, LatencySummary, MetricsSnapshot
from outgrow.monitor.webhook import DeliveryResult, Webhook, sign, verify_signature
from outgrow.settings import Settings

SECRET = "s3cr3t-webhook-key"
LABELS = {"alertname": "DatabaseTooLarge", "severity": "warning", "engine": "sqlite", "database": "app.db"}


def snapshot(*, size_bytes: int = 1_000_000, wal_bytes: int | None = None, p95_s: float | None = None,
             busy_rate: float | None = None, statements: LatencySummary | None = None) -> MetricsSnapshot:
    """A real MetricsSnapshot with the figures the rules read, the others empty."""
    if statements is None:
        statements = LatencySummary(count=0, errors=0, p50_s=None, p95_s=p95_s, p99_s=None, max_s=None,
                                    mean_s=None, histogram=Histogram())
    return MetricsSnapshot(
        engine="sqlite", database="app.db", taken_at=0.0, window_s=60.0, size_bytes=size_bytes,
        wal_bytes=wal_bytes, free_pages=0, page_size=4096, statements=statements, by_operation={},
        connections=ConnectionFigures(used=0, idle=0, pool_size=None, waiting=0, checkouts=0, wait_p95_s=None),
        contention=ContentionFigures(busy_events=0, write_transactions=0, busy_rate=busy_rate, lock_wait_p95_s=None,
                                     write_transaction_p99_s=None),
        writes_per_s=None, processes=1)


def size_rule(for_s: float = 300.0) -> AlertRule:
    return AlertRule("DatabaseTooLarge", "size_bytes", 800_000_000, for_s,
                     "the database is {value_text}, over {threshold_text}", "bytes")


# -- rules -------------------------------------------------------------------------------------------------

def test_default_rules_read_the_settings() -> None:
    rules = default_rules(Settings(alert_db_size_bytes=500_000_000, alert_p95_ms=200, alert_busy_rate=0.05,
                                   alert_wal_bytes=1_000_000, alert_for_s=60))
    assert [(r.name, r.metric, r.threshold, r.for_s, r.unit) for r in rules] == [
        ("DatabaseTooLarge", "size_bytes", 500_000_000, 60, "bytes"),
        ("SlowQueries", "statements.p95_s", 0.2, 60, "seconds"),
        ("WriteContention", "contention.busy_rate", 0.05, 60, "ratio"),
        ("WalTooLarge", "wal_bytes", 1_000_000, 60, "bytes"),
    ]


def test_default_thresholds_and_values() -> None:
    rules = {rule.name: rule for rule in default_rules(Settings())}
    assert {name: (rule.threshold, rule.for_s) for name, rule in rules.items()} == {
        "DatabaseTooLarge": (800_000_000, 300), "SlowQueries": (0.15, 300), "WriteContention": (0.01, 300),
        "WalTooLarge": (268_435_456, 300)}
    figures = snapshot(size_bytes=5, wal_bytes=7, p95_s=0.25, busy_rate=0.5)
    assert {name: rule.value(figures) for name, rule in rules.items()} == {
        "DatabaseTooLarge": 5.0, "SlowQueries": 0.25, "WriteContention": 0.5, "WalTooLarge": 7.0}


def test_a_metric_path_with_a_typo_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("MetricsSnapshot has no figure 'statements.p96_s'")):
        AlertRule("X", "statements.p96_s", 1, 0, "{value_text}", "seconds")
    with pytest.raises(ConfigurationError, match="'statements' is not a number"):
        AlertRule("X", "statements", 1, 0, "{value_text}", "seconds")


def test_slow_queries_fire_from_a_real_histogram() -> None:
    histogram = Histogram()
    for _ in range(100):
        histogram.observe(0.2)
    evaluator = AlertEvaluator([rule for rule in default_rules(Settings(alert_for_s=0)) if rule.name == "SlowQueries"])
    [event] = evaluator.evaluate(snapshot(statements=LatencySummary.of(histogram)), now=10.0)
    # 100 values in the bucket (0.15, 0.2]: the p95 is interpolated to 0.15 + 0.05 * 0.95, as Prometheus does.
    assert (event.rule, event.state) == ("SlowQueries", "firing")
    assert event.value == pytest.approx(0.1975)
    assert event.message == "SlowQueries firing: the statements' p95 is 198 ms, over 150 ms."


# -- the state machine ---------------------------------------------------------------------------------------

def test_inactive_pending_firing_resolved() -> None:
    evaluator = AlertEvaluator([size_rule()])
    assert evaluator.evaluate(snapshot(size_bytes=700_000_000), now=1000.0) == []
    assert evaluator.states == [AlertState("DatabaseTooLarge", "inactive", 1000.0, None, 700_000_000)]

    assert evaluator.evaluate(snapshot(size_bytes=812_345_678), now=1060.0) == [AlertEvent(
        "DatabaseTooLarge", "pending", 812_345_678, 800_000_000, 1060.0,
        "DatabaseTooLarge pending: the database is 812.3 MB, over 800.0 MB (firing if it holds for 5 min).",
        "warning", 1060.0, LABELS)]
    assert evaluator.evaluate(snapshot(size_bytes=813_000_000), now=1359.0) == []  # 299 s: not yet
    assert evaluator.states == [AlertState("DatabaseTooLarge", "pending", 1060.0, 1060.0, 813_000_000)]

    assert evaluator.evaluate(snapshot(size_bytes=814_000_000), now=1360.0) == [AlertEvent(
        "DatabaseTooLarge", "firing", 814_000_000, 800_000_000, 1360.0,
        "DatabaseTooLarge firing: the database is 814.0 MB, over 800.0 MB for 5 min.", "warning", 1060.0, LABELS)]
    assert evaluator.evaluate(snapshot(size_bytes=815_000_000), now=1420.0) == []  # still firing: no repeat
    assert evaluator.states == [AlertState("DatabaseTooLarge", "firing", 1360.0, 1060.0, 815_000_000)]

    assert evaluator.evaluate(snapshot(size_bytes=790_000_000), now=1480.0) == [AlertEvent(
        "DatabaseTooLarge", "resolved", 790_000_000, 800_000_000, 1480.0,
        "DatabaseTooLarge resolved: now 790.0 MB, not over 800.0 MB.", "warning", None, LABELS)]
    assert evaluator.states == [AlertState("DatabaseTooLarge", "inactive", 1480.0, None, 790_000_000)]


def test_for_zero_goes_straight_to_firing() -> None:
    evaluator = AlertEvaluator([size_rule(for_s=0)])
    [event] = evaluator.evaluate(snapshot(size_bytes=900_000_000), now=5.0)
    assert (event.state, event.at, event.active_since, event.message) == (
        "firing", 5.0, 5.0, "DatabaseTooLarge firing: the database is 900.0 MB, over 800.0 MB.")
    assert evaluator.states == [AlertState("DatabaseTooLarge", "firing", 5.0, 5.0, 900_000_000)]


def test_the_threshold_itself_is_not_a_breach() -> None:
    evaluator = AlertEvaluator([size_rule(for_s=0)])
    assert evaluator.evaluate(snapshot(size_bytes=800_000_000), now=1.0) == []


def test_pending_that_clears_emits_nothing() -> None:
    evaluator = AlertEvaluator([size_rule()])
    assert [e.state for e in evaluator.evaluate(snapshot(size_bytes=900_000_000), now=0.0)] == ["pending"]
    assert evaluator.evaluate(snapshot(size_bytes=100), now=200.0) == []
    assert evaluator.states == [AlertState("DatabaseTooLarge", "inactive", 200.0, None, 100)]
    # Breached again: the wait for for_s starts over.
    assert [e.state for e in evaluator.evaluate(snapshot(size_bytes=900_000_000), now=250.0)] == ["pending"]
    assert evaluator.evaluate(snapshot(size_bytes=900_000_000), now=500.0) == []
    assert [e.state for e in evaluator.evaluate(snapshot(size_bytes=900_000_000), now=550.0)] == ["firing"]


def test_none_never_breaches_and_a_vanished_figure_resolves() -> None:
    rules = default_rules(Settings(alert_for_s=0))
    evaluator = AlertEvaluator(rules)
    assert evaluator.evaluate(snapshot(size_bytes=1, wal_bytes=None, p95_s=None, busy_rate=None), now=1.0) == []
    assert [s.state for s in evaluator.states] == ["inactive"] * 4

    assert [(e.rule, e.state) for e in evaluator.evaluate(snapshot(p95_s=0.5), now=2.0)] == [("SlowQueries", "firing")]
    [event] = evaluator.evaluate(snapshot(p95_s=None), now=3.0)
    assert (event.rule, event.state, event.value, event.message) == (
        "SlowQueries", "resolved", None, "SlowQueries resolved: the snapshot no longer has a statements.p95_s figure.")


def test_messages_use_human_units() -> None:
    evaluator = AlertEvaluator(default_rules(Settings(alert_for_s=0)))
    events = evaluator.evaluate(snapshot(size_bytes=850_000_000, wal_bytes=300_000_000, p95_s=0.0123,
                                         busy_rate=0.025), now=1.0)
    assert [e.message for e in events] == [
        "DatabaseTooLarge firing: the database is 850.0 MB, over 800.0 MB.",
        "WriteContention firing: 2.5% of write transactions met a busy database, over 1.0%.",
        "WalTooLarge firing: the WAL file is 300.0 MB, over 268.4 MB.",
    ]
    slow = AlertEvaluator([AlertRule("Slow", "statements.p95_s", 0.005, 0, "p95 {value_text} > {threshold_text}",
                                     "seconds")])
    assert [e.message for e in slow.evaluate(snapshot(p95_s=0.0123), now=1.0)] == ["Slow firing: p95 12 ms > 5.0 ms."]


def test_state_round_trips_through_json() -> None:
    rules = default_rules(Settings())
    evaluator = AlertEvaluator(rules)
    evaluator.evaluate(snapshot(size_bytes=900_000_000, p95_s=0.01), now=100.0)
    text = evaluator.states_to_json()
    assert json.loads(text)["states"][0] == {"rule": "DatabaseTooLarge", "state": "pending", "since": 100.0,
                                             "active_since": 100.0, "value": 900_000_000.0}

    resumed = AlertEvaluator.from_json(rules, text)
    assert resumed.states == evaluator.states
    # The resumed evaluator remembers when the condition began: it fires at 100 + 300.
    assert [(e.rule, e.state, e.active_since) for e in resumed.evaluate(snapshot(size_bytes=900_000_000), now=400.0)
            ] == [("DatabaseTooLarge", "firing", 100.0)]


def test_states_of_removed_rules_are_dropped_and_bad_json_is_an_outgrow_error() -> None:
    saved = json.dumps({"format": 1, "states": [{"rule": "Gone", "state": "firing", "since": 1.0,
                                                 "active_since": 1.0, "value": 2.0}]})
    assert AlertEvaluator.from_json([size_rule()], saved).states == [AlertState("DatabaseTooLarge")]
    with pytest.raises(OutgrowError, match="saved alert states cannot be read"):
        AlertEvaluator.from_json([size_rule()], '{"format": 1, "states": [{"rule": "x", "state": "on"}]}')
    with pytest.raises(OutgrowError, match="saved alert states cannot be read"):
        AlertEvaluator.from_json([size_rule()], "not json")


def test_rules_named_twice_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="alert rules named twice: DatabaseTooLarge"):
        AlertEvaluator([size_rule(), size_rule()])


# -- signatures ----------------------------------------------------------------------------------------------

def test_sign_and_verify() -> None:
    body = b'{"alerts":[]}'
    signature = sign(body, SECRET)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(body, SECRET, signature)
    assert not verify_signature(body + b" ", SECRET, signature)
    assert not verify_signature(body, "other", signature)
    assert not verify_signature(body, SECRET, None)
    assert not verify_signature(body, SECRET, "sha256=é")


# -- delivery to a real HTTP server -----------------------------------------------------------------------------

@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with ``statuses`` in turn (then 200), records each POST."""

    url: str
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/outgrow"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours *_proxy variables; the local receiver must be reached directly.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def firing_events() -> list[AlertEvent]:
    return AlertEvaluator(default_rules(Settings(alert_for_s=0))).evaluate(
        snapshot(size_bytes=900_000_000, p95_s=0.3), now=1234.5)


def test_one_signed_post_per_batch(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    events = firing_events()
    webhook = Webhook(receiver.url, SECRET, backoff_s=0.001)
    logger = logging.getLogger("test.alerts")
    with caplog.at_level(logging.DEBUG, logger="test.alerts"):
        results = deliver(events, logger=logger, webhook=webhook)

    port = receiver.url.split(":")[2].split("/")[0]
    assert results == [DeliveryResult(f"http://127.0.0.1:{port}", True, 1, 200)]
    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    assert verify_signature(body, SECRET, headers["X-Outgrow-Signature"])
    payload = json.loads(body)
    assert set(payload) == {"alerts", "sent_at"}
    assert payload["alerts"] == [event.to_dict() for event in events]
    assert [(a["rule"], a["state"], a["value"], a["threshold"], a["at"]) for a in payload["alerts"]] == [
        ("DatabaseTooLarge", "firing", 900_000_000, 800_000_000, 1234.5), ("SlowQueries", "firing", 0.3, 0.15, 1234.5)]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "alert DatabaseTooLarge firing: the database is 900.0 MB, over 800.0 MB."),
        ("WARNING", "alert SlowQueries firing: the statements' p95 is 300 ms, over 150 ms."),
        ("DEBUG", f"alert webhook http://127.0.0.1:{port} took 2 alert(s) (HTTP 200)"),
    ]


def test_unsigned_without_a_secret_and_info_for_resolved(receiver: Receiver, caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    evaluator = AlertEvaluator([size_rule(for_s=0)])
    evaluator.evaluate(snapshot(size_bytes=900_000_000), now=1.0)
    events = evaluator.evaluate(snapshot(size_bytes=1), now=2.0)
    with caplog.at_level(logging.INFO, logger="test.alerts"):
        [result] = deliver(events, logger=logging.getLogger("test.alerts"), webhook=Webhook(receiver.url))
    assert result.ok
    [(headers, _body)] = receiver.requests
    assert "X-Outgrow-Signature" not in headers
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "alert DatabaseTooLarge resolved: now 0.0 MB, not over 800.0 MB.")]


def test_nothing_to_send_posts_nothing(receiver: Receiver) -> None:
    assert deliver([], logger=logging.getLogger("test.alerts"), webhook=Webhook(receiver.url)) == []
    assert deliver(firing_events(), logger=logging.getLogger("test.alerts"), webhook=None) == []
    assert receiver.requests == []


def test_5xx_is_retried_until_it_succeeds(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    [result] = deliver(firing_events(), logger=logging.getLogger("test.alerts"),
                       webhook=Webhook(receiver.url, SECRET, backoff_s=0.001))
    assert (result.ok, result.attempts, result.status, result.error) == (True, 3, 200, None)
    assert len(receiver.requests) == 3
    # Every attempt sends the same bytes with the same signature: a receiver can drop duplicates.
    assert len({body for _headers, body in receiver.requests}) == 1
    assert all(verify_signature(body, SECRET, headers["X-Outgrow-Signature"]) for headers, body in receiver.requests)


def test_429_is_retried_and_400_is_not(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.statuses = [429]
    assert Webhook(receiver.url, backoff_s=0.001).post_json({}).attempts == 2
    receiver.requests.clear()
    receiver.statuses = [400, 400, 400]
    with caplog.at_level(logging.ERROR, logger="test.alerts"):
        [result] = deliver(firing_events(), logger=logging.getLogger("test.alerts"),
                           webhook=Webhook(receiver.url, SECRET, backoff_s=0.001))
    assert (result.ok, result.attempts, result.status, result.error) == (False, 1, 400, "HTTP 400 Bad Request")
    assert len(receiver.requests) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"alert webhook {result.target} failed after 1 attempt(s): HTTP 400 Bad Request; 2 alert(s) not delivered"]


def test_a_payload_that_is_not_json_is_reported_not_raised(receiver: Receiver) -> None:
    result = Webhook(receiver.url).post_json({"value": float("nan")})
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error is not None and result.error.startswith("not JSON: Out of range float values")
    assert receiver.requests == []


def test_a_server_that_keeps_failing_is_reported_not_raised(receiver: Receiver) -> None:
    receiver.statuses = [502] * 10
    result = Webhook(receiver.url, attempts=4, backoff_s=0.001).post(b"{}")
    assert (result.ok, result.attempts, result.status, result.error) == (False, 4, 502, "HTTP 502 Bad Gateway")
    assert len(receiver.requests) == 4


def test_an_unreachable_url_fails_after_the_attempts_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port that was just free: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    webhook = Webhook(f"http://127.0.0.1:{port}/hook", SECRET, timeout_s=2, attempts=3, backoff_s=0.001)
    with caplog.at_level(logging.ERROR, logger="test.alerts"):
        [result] = deliver(firing_events(), logger=logging.getLogger("test.alerts"), webhook=webhook)
    assert (result.ok, result.attempts, result.status, result.error) == (False, 3, None, "Connection refused")
    assert [r.getMessage() for r in caplog.records] == [
        f"alert webhook http://127.0.0.1:{port} failed after 3 attempt(s): Connection refused; "
        "2 alert(s) not delivered"]


def test_url_credentials_become_basic_auth_and_never_reach_logs(receiver: Receiver,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    url = receiver.url.replace("http://", "http://alerts:hunter2@")
    webhook = Webhook(url, SECRET, backoff_s=0.001)
    receiver.statuses = [500, 404]
    with caplog.at_level(logging.DEBUG):
        [result] = deliver(firing_events(), logger=logging.getLogger("test.alerts"), webhook=webhook)
    assert (result.ok, result.attempts, result.error) == (False, 2, "HTTP 404 Not Found")
    assert receiver.requests[0][0]["Authorization"] == "Basic YWxlcnRzOmh1bnRlcjI="  # alerts:hunter2
    logged = caplog.text + repr(webhook) + repr(result)
    assert "hunter2" not in logged and SECRET not in logged and "/hooks/outgrow" not in logged


def test_webhook_from_settings() -> None:
    assert Webhook.from_settings(Settings()) is None
    webhook = Webhook.from_settings(Settings(alert_webhook_url="https://hooks.example.com/x",
                                             alert_webhook_secret=SECRET))
    assert webhook is not None and (webhook.url, webhook.secret) == ("https://hooks.example.com/x", SECRET)
    assert repr(webhook) == "Webhook('https://hooks.example.com', signed=True, attempts=5)"
    unsigned = Webhook.from_settings(Settings(alert_webhook_url="https://hooks.example.com/x"))
    assert unsigned is not None and unsigned.secret is None
    with pytest.raises(ConfigurationError, match=re.escape("'ftp://u:***@host/x' is not an http(s) URL")) as info:
        Webhook.from_settings(Settings(alert_webhook_url="ftp://u:pw@host/x"))
    assert info.value.hint == "set OUTGROW_ALERT_WEBHOOK_URL to e.g. https://hooks.example.com/outgrow"
