"""The admin index's dashboard (unfold's DASHBOARD_CALLBACK): KPI cards and charts, each linked to its list.

A figure is shown only to a user who may open the list it links to (the view permission of that page).
Each figure's numbers are cached for CACHE_SECONDS under a key of its own, so every user allowed to see a
figure shares one computation and nobody is served a figure they may not see. A figure whose store is down
says "unavailable" (cached for UNAVAILABLE_SECONDS, so a dead MongoDB costs one timeout per few seconds, not
one per request), and once MongoDB failed in a render its other figures do not wait for it again.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from apps.console import selectors
from apps.scheduler.documents import RunStatus

logger = logging.getLogger("apps.console.dashboard")

CACHE_SECONDS = 30
UNAVAILABLE_SECONDS = 5
CACHE_PREFIX = "console:dashboard:v1:"
UNAVAILABLE: dict[str, bool] = {"unavailable": True}
# What a store that is down raises (a figure may read two stores: live sessions read SQL and Redis).
STORE_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, RedisError, OSError, DatabaseError)


@dataclass(frozen=True)
class Figure:
    key: str
    permission: str  # the view permission of the admin list the figure links to
    compute: Callable[..., Any]  # compute(reach=...): the figure over the users the operator's data scope holds
    store: str  # "mongodb" | "redis" | "sql": what it reads, so an outage is told apart


FIGURES = (
    Figure("sign_ins", "audit.view_loginlogentry", selectors.sign_in_figures, "mongodb"),
    Figure("operations", "audit.view_operationlogentry", selectors.operation_figures, "mongodb"),
    Figure("task_runs", "scheduler.view_taskrunentry", selectors.task_run_figures, "mongodb"),
    Figure("online", "console.view_onlineuser", selectors.online_figures, "redis"),
    Figure("sessions", "console.view_onlineuser", selectors.live_session_count, "redis"),
    Figure("storage", "storage.view_storedfile", selectors.storage_figures, "sql"),
)


def cache_key(figure: Figure, reach: selectors.Reach = selectors.EVERYONE) -> str:
    """One entry per figure and reach: operators with the same data scope share it, no one sees another's."""
    return CACHE_PREFIX + figure.key + (f":{reach.fingerprint}" if reach.fingerprint else "")


def reach_of(request: HttpRequest) -> selectors.Reach:
    from apps.org.selectors import scope_of_sync

    return selectors.Reach(scope_of_sync(request.user))


def visible_figures(request: HttpRequest) -> list[Figure]:
    user = request.user
    return [figure for figure in FIGURES if user.is_active and user.has_perm(figure.permission)]


def _cache_get(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:  # the cache is only a shortcut: without it the figures are computed
        logger.warning("dashboard cache unavailable", exc_info=True)
        return {}


def _cache_set(key: str, value: Any, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        logger.warning("dashboard cache unavailable", exc_info=True)


def figure_values(request: HttpRequest) -> dict[str, Any]:
    """{figure key: numbers or UNAVAILABLE} of the figures the user may see."""
    figures = visible_figures(request)
    reach = reach_of(request) if figures else selectors.EVERYONE
    cached = _cache_get([cache_key(f, reach) for f in figures])
    values: dict[str, Any] = {}
    down: set[str] = set()
    for figure in figures:
        key = cache_key(figure, reach)
        if key in cached:
            values[figure.key] = cached[key]
            continue
        if figure.store in down:
            values[figure.key] = UNAVAILABLE
            continue
        try:
            value = figure.compute(reach=reach)
        except STORE_ERRORS:
            logger.warning("dashboard figure %s unavailable: %s is down", figure.key, figure.store, exc_info=True)
            down.add(figure.store)
            values[figure.key] = UNAVAILABLE
            _cache_set(key, UNAVAILABLE, UNAVAILABLE_SECONDS)
            continue
        values[figure.key] = value
        _cache_set(key, value, CACHE_SECONDS)
    return values


# --- presentation -----------------------------------------------------------------------------------------


def _url(name: str, **params: Any) -> str:
    url = reverse(f"admin:{name}")
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def _since(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")  # what the lists' since filters take (UTC)


def _count(n: int) -> str:
    return number_format(n, force_grouping=True)


def _percent(part: int, whole: int) -> str:
    return number_format(100 * part / whole if whole else 0, 1) + " %"


def _links(links: list[tuple[str, str]]) -> SafeString:
    """(label, url) pairs as a row of links."""
    items = format_html_join(
        "", '<a href="{}" class="text-primary-600 underline dark:text-primary-500">{}</a>', ((u, t) for t, u in links)
    )
    return format_html('<span class="flex flex-row flex-wrap gap-4">{}</span>', items)


def _chart(labels: list[str], datasets: list[dict[str, Any]]) -> str:
    return json.dumps({"labels": labels, "datasets": datasets})


def _down(data: Any) -> bool:
    return isinstance(data, dict) and bool(data.get("unavailable"))


def _unavailable_card(title: str, href: str, icon: str) -> dict[str, Any]:
    return {
        "title": title,
        "value": "—",
        "detail": gettext("unavailable right now"),
        "href": href,
        "icon": icon,
        "unavailable": True,
    }


def _sign_ins(data: Any, cards: list[dict[str, Any]], charts: list[dict[str, Any]]) -> None:
    title = gettext("Sign-ins, last 14 days")
    if _down(data):
        cards.append(_unavailable_card(title, _url("audit_loginlogentry_changelist"), "login"))
        charts.append({"title": gettext("Sign-ins per day"), "unavailable": True})
        return
    since = _since(data["since"])
    all_url = _url("audit_loginlogentry_changelist", since=since)
    failed_url = _url("audit_loginlogentry_changelist", success="false", since=since)
    ok_url = _url("audit_loginlogentry_changelist", success="true", since=since)
    cards.append(
        {
            "title": title,
            "value": _count(data["success"] + data["failure"]),
            "detail": gettext("%(ok)s succeeded, %(failed)s failed")
            % {"ok": _count(data["success"]), "failed": _count(data["failure"])},
            "href": all_url,
            "icon": "login",
        }
    )
    days = data["days"]
    charts.append(
        {
            "title": gettext("Sign-ins per day (UTC)"),
            "kind": "bar",
            "data": _chart(
                [d["start"].strftime("%m-%d") for d in days],
                [
                    {
                        "label": gettext("Succeeded"),
                        "data": [d["success"] for d in days],
                        "backgroundColor": "var(--color-primary-600)",
                    },
                    {
                        "label": gettext("Failed"),
                        "data": [d["failure"] for d in days],
                        "backgroundColor": "var(--color-red-500)",
                    },
                ],
            ),
            "footer": _links(
                [(gettext("All sign-ins"), all_url), (gettext("Succeeded"), ok_url), (gettext("Failed"), failed_url)]
            ),
        }
    )


def _operations(data: Any, cards: list[dict[str, Any]], charts: list[dict[str, Any]]) -> None:
    list_url = _url("audit_operationlogentry_changelist")
    if _down(data):
        cards.append(_unavailable_card(gettext("API calls, last 24 h"), list_url, "receipt_long"))
        cards.append(_unavailable_card(gettext("Error rate, last 24 h"), list_url, "error"))
        cards.append(_unavailable_card(gettext("p95 latency, last 24 h"), list_url, "speed"))
        charts.append({"title": gettext("API calls per hour"), "unavailable": True})
        charts.append({"title": gettext("Error rate per hour"), "unavailable": True})
        return
    since = _since(data["since"])
    all_url = _url("audit_operationlogentry_changelist", since=since)
    server_url = _url("audit_operationlogentry_changelist", status="5xx", since=since)
    client_url = _url("audit_operationlogentry_changelist", status="4xx", since=since)
    total = data["total"]
    cards.append(
        {
            "title": gettext("API calls, last 24 h"),
            "value": _count(total),
            "detail": gettext("audited calls: writes and failures"),
            "href": all_url,
            "icon": "receipt_long",
        }
    )
    cards.append(
        {
            "title": gettext("Server errors (5xx), last 24 h"),
            "value": _percent(data["server_errors"], total),
            "detail": gettext("%(errors)s calls; client errors (4xx): %(client)s (%(rate)s)")
            % {
                "errors": _count(data["server_errors"]),
                "client": _count(data["client_errors"]),
                "rate": _percent(data["client_errors"], total),
            },
            "href": server_url,
            "icon": "error",
        }
    )
    p95 = data["p95"]
    cards.append(
        {
            "title": gettext("p95 latency, last 24 h"),
            "value": gettext("%(ms)s ms") % {"ms": number_format(p95["value"], 1 if p95["value"] < 100 else 0)}
            if p95
            else "—",
            "detail": gettext("from a histogram: between %(low)s and %(high)s ms")
            % {"low": number_format(p95["low"], 1), "high": number_format(p95["high"], 1)}
            if p95
            else gettext("no calls yet"),
            "href": all_url,
            "icon": "speed",
        }
    )
    hours = data["hours"]
    labels = [h["start"].strftime("%H:00") for h in hours]
    charts.append(
        {
            "title": gettext("API calls per hour (UTC)"),
            "kind": "bar",
            "data": _chart(
                labels,
                [
                    {
                        "label": gettext("Calls"),
                        "data": [h["total"] for h in hours],
                        "backgroundColor": "var(--color-primary-600)",
                        "displayYAxis": True,
                    }
                ],
            ),
            "footer": _links([(gettext("All calls"), all_url)]),
        }
    )
    charts.append(
        {
            "title": gettext("Error rate per hour (UTC)"),
            "kind": "line",
            "data": _chart(
                labels,
                [
                    {
                        "label": gettext("5xx"),
                        "data": [round(100 * h["server_errors"] / h["total"], 2) if h["total"] else 0 for h in hours],
                        "borderColor": "var(--color-red-500)",
                        "displayYAxis": True,
                        "suffixYAxis": "%",
                    },
                    {
                        "label": gettext("4xx"),
                        "data": [round(100 * h["client_errors"] / h["total"], 2) if h["total"] else 0 for h in hours],
                        "borderColor": "var(--color-orange-500)",
                    },
                ],
            ),
            "footer": _links(
                [(gettext("Server errors (5xx)"), server_url), (gettext("Client errors (4xx)"), client_url)]
            ),
        }
    )


STATUS_COLOURS = {
    RunStatus.SUCCESS.value: "bg-primary-600",  # unfold's progress bar draws in the primary colour underneath
    RunStatus.FAILURE.value: "bg-red-500",
    RunStatus.RETRY.value: "bg-orange-500",
    RunStatus.STARTED.value: "bg-blue-500",
    RunStatus.PENDING.value: "bg-base-300",
}


def _task_runs(data: Any, cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    list_url = _url("scheduler_taskrunentry_changelist")
    if _down(data):
        cards.append(_unavailable_card(gettext("Task runs, last 24 h"), list_url, "play_circle"))
        return {"unavailable": True}
    since = _since(data["since"])
    total = data["total"]
    failures = data["by_status"].get(RunStatus.FAILURE.value, 0)
    cards.append(
        {
            "title": gettext("Task runs, last 24 h"),
            "value": _count(total),
            "detail": gettext("%(failed)s failed (%(rate)s)")
            % {"failed": _count(failures), "rate": _percent(failures, total)},
            "href": _url("scheduler_taskrunentry_changelist", status=RunStatus.FAILURE.value, since=since)
            if failures
            else _url("scheduler_taskrunentry_changelist", since=since),
            "icon": "play_circle",
        }
    )
    statuses = [
        {
            "status": status.value,
            "count": _count(data["by_status"].get(status.value, 0)),
            "share": round(100 * data["by_status"].get(status.value, 0) / total, 2) if total else 0,
            "colour": STATUS_COLOURS[status.value],
            "href": _url("scheduler_taskrunentry_changelist", status=status.value, since=since),
        }
        for status in RunStatus
    ]
    return {
        "all_url": _url("scheduler_taskrunentry_changelist", since=since),
        "total": _count(total),
        "statuses": statuses,
        "progress": [
            {"title": s["status"], "value": s["share"], "progress_class": s["colour"]} for s in statuses if s["share"]
        ],
        "failures": [
            {**run, "href": reverse("admin:scheduler_taskrunentry_change", args=[run["task_id"]])}
            for run in data["recent_failures"]
            if run["task_id"]
        ],
    }


def _presence(values: dict[str, Any], cards: list[dict[str, Any]]) -> None:
    online_url = _url("console_onlineuser_changelist")
    if "online" in values:
        data = values["online"]
        if _down(data):
            cards.append(_unavailable_card(gettext("Online users now"), online_url, "sensors"))
        else:
            cards.append(
                {
                    "title": gettext("Online users now"),
                    "value": _count(data["users"]),
                    "detail": gettext("%(n)s open websocket connections") % {"n": _count(data["connections"])},
                    "href": online_url,
                    "icon": "sensors",
                }
            )
    if "sessions" in values:
        data = values["sessions"]
        if _down(data):
            cards.append(_unavailable_card(gettext("Live sessions"), online_url, "devices"))
        else:
            cards.append(
                {
                    "title": gettext("Live sessions"),
                    "value": _count(data),
                    "detail": gettext("signed-in sessions that can still refresh"),
                    "href": online_url,
                    "icon": "devices",
                }
            )


def _storage(data: Any, cards: list[dict[str, Any]]) -> None:
    list_url = _url("storage_storedfile_changelist", status__exact="ready")
    if _down(data):
        cards.append(_unavailable_card(gettext("Storage used"), list_url, "folder"))
        return
    cards.append(
        {
            "title": gettext("Storage used"),
            "value": filesizeformat(data["bytes"]),
            "detail": gettext("%(files)s files; %(pending)s uploads pending")
            % {"files": _count(data["files"]), "pending": _count(data["pending"])},
            "href": list_url,
            "icon": "folder",
        }
    )


def dashboard(request: HttpRequest) -> dict[str, Any]:
    """What templates/admin/index.html draws: cards, charts and the task-run panel the user may see."""
    values = figure_values(request)
    cards: list[dict[str, Any]] = []
    charts: list[dict[str, Any]] = []
    task_runs = None
    computed = [value["computed_at"] for value in values.values() if isinstance(value, dict) and "computed_at" in value]
    if "sign_ins" in values:
        _sign_ins(values["sign_ins"], cards, charts)
    if "operations" in values:
        _operations(values["operations"], cards, charts)
    if "task_runs" in values:
        task_runs = _task_runs(values["task_runs"], cards)
    _presence(values, cards)
    if "storage" in values:
        _storage(values["storage"], cards)
    return {
        "cards": cards,
        "charts": charts,
        "task_runs": task_runs,
        "as_of": min(computed).strftime("%Y-%m-%d %H:%M:%S") if computed else None,
        "refresh_seconds": CACHE_SECONDS,
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """UNFOLD["DASHBOARD_CALLBACK"]: adds `dashboard` to the admin index's context."""
    context["dashboard"] = dashboard(request)
    return context
