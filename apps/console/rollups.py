"""Pre-aggregated counts of MongoDB documents per day, hour and minute, so the dashboard never scans a day of logs.

A *series* counts the documents of one collection per time unit, split by a few fields: the counts of a unit
are marginal counts per field value, e.g. {"st:SUCCESS": 3, "st:FAILURE": 1}. Once a unit is closed (it
ended at least GRACE ago, so the buffered writers have flushed into it) its counts are stored in the
`dashboard_rollups` collection. A window is read as the coarsest stored units that fit it (days, hours, then the
closed 10-minute bins and minutes of the current hour), then one aggregation of the open minutes at the end
(the *tail*). A unit not
stored yet is summed from its stored finer units (aggregating the missing ones from the documents), or
aggregated at once when none of them is stored, so after the first read only the tail and the few minutes
closed since the last read touch the documents.

Documents whose counted values may still change (task runs in progress) are not counted in a stored unit:
their keys are stored beside the counts instead, and every read counts them as they are now (one indexed
lookup of those few documents), so a run that ends later is counted by its final status. Documents written
into a unit after it was stored (a writer replaying its spool after a long MongoDB outage) are not counted
there.
"""

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.collection import Collection

from apps.core import mongo

Counts = dict[str, int]

COLLECTION = "dashboard_rollups"
# A unit is closed this long after its end: the audit writer flushes every second, a task-run record is
# written when the task is sent; a minute leaves room for a slow batch.
GRACE = timedelta(seconds=60)
UNIT_SECONDS = {"day": 86400, "hour": 3600, "10min": 600, "minute": 60}
# $dateTrunc of each unit (bins of 10 minutes start on the hour: MongoDB counts them from 2000-01-01T00:00).
TRUNCATE: dict[str, dict[str, Any]] = {
    "day": {"unit": "day"},
    "hour": {"unit": "hour"},
    "10min": {"unit": "minute", "binSize": 10},
    "minute": {"unit": "minute"},
}
# Stored units outlive every window that reads them (24 hours, 14 days), then MongoDB's TTL removes them.
KEEP = {"minute": timedelta(days=2), "10min": timedelta(days=2), "hour": timedelta(days=3), "day": timedelta(days=40)}
MAX_RANGE = timedelta(hours=1)  # of documents per aggregation: a missing day is counted hour by hour

_indexes_ready: set[tuple[int, str]] = set()


@dataclass(frozen=True)
class Series:
    """What to count: documents of `collection` by `time_field`, split by the value of each of `fields`."""

    name: str
    collection: Callable[[], Collection[dict[str, Any]]]
    time_field: str
    fields: dict[str, Any]  # marginal name -> aggregation expression of the value
    levels: tuple[str, ...]  # stored units, coarse to fine; the first is the unit of the window's start
    # Documents whose counted values may still change (None: none may): counted live, by key_field.
    open_filter: dict[str, Any] | None = None
    settled_filter: dict[str, Any] = field(default_factory=dict)  # the others
    key_field: str = "_id"
    user_field: str = "user_id"  # the acting user's id, for the counts of some users only (for_users)
    users: tuple[str, ...] | None = None  # count only the documents of these users (None: everyone's)


@dataclass
class Rollup:
    counts: Counts = field(default_factory=dict)
    open: list[Any] = field(default_factory=list)  # keys of documents counted live


@dataclass(frozen=True)
class Piece:
    unit: str
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=UNIT_SECONDS[self.unit])


def floor(moment: datetime, unit: str) -> datetime:
    """The start of the UTC unit holding `moment` (UTC days and hours are whole multiples of the epoch's)."""
    size = UNIT_SECONDS[unit]
    return datetime.fromtimestamp(int(moment.timestamp()) // size * size, UTC)


def _rollups() -> Collection[dict[str, Any]]:
    db = mongo.database()
    key = (id(db.client), db.name)
    collection = db[COLLECTION]
    if key not in _indexes_ready:
        collection.create_index([("expires_at", ASCENDING)], name="expires_at_ttl", expireAfterSeconds=0)
        _indexes_ready.add(key)
    return collection


def _doc_id(series: Series, piece: Piece) -> str:
    return f"{series.name}:{piece.unit}:{int(piece.start.timestamp())}"


def plan(series: Series, start: datetime, now: datetime) -> tuple[list[Piece], datetime]:
    """The closed units covering [start, tail) coarsest first, and where the open tail begins."""
    horizon = now - GRACE
    pieces: list[Piece] = []
    moment = floor(start, series.levels[0])
    for unit in series.levels:
        size = timedelta(seconds=UNIT_SECONDS[unit])
        while moment + size <= horizon:
            pieces.append(Piece(unit, moment))
            moment += size
    return pieces, moment


def _value_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "none" if value is None else str(value)


def _between(series: Series, start: datetime, end: datetime) -> dict[str, Any]:
    return {series.time_field: {"$gte": start, "$lt": end}}


def users_stage(series: Series) -> list[dict[str, Any]]:
    """The users' filter as a stage of its own after the time range's: MongoDB merges adjacent $match stages
    and picks its index, and a server that cannot use an index for $in still filters a short range only."""
    return [] if series.users is None else [{"$match": {series.user_field: {"$in": list(series.users)}}}]


def _aggregate(series: Series, unit: str, match: dict[str, Any]) -> dict[datetime, Counts]:
    """Counts per `unit` of the documents matching `match`, from one aggregation pipeline."""
    time_field = f"${series.time_field}"
    pipeline = [
        {"$match": match},
        *users_stage(series),
        {
            "$group": {
                "_id": {"t": {"$dateTrunc": {"date": time_field, **TRUNCATE[unit]}}, **series.fields},
                "n": {"$sum": 1},
            }
        },
    ]
    result: dict[datetime, Counts] = defaultdict(lambda: defaultdict(int))
    for row in series.collection().aggregate(pipeline):
        group = row["_id"]
        slot = group["t"].astimezone(UTC)
        for name in series.fields:
            result[slot][f"{name}:{_value_key(group.get(name))}"] += int(row["n"])
    return {slot: dict(counts) for slot, counts in result.items()}


def _ranges(pieces: Iterable[Piece]) -> list[tuple[datetime, datetime]]:
    """Adjacent pieces merged into [start, end) ranges of at most MAX_RANGE, each one aggregation.

    The cap keeps each aggregation short (a day of logs can take the server longer than a socket timeout), and
    each range is stored as soon as it is counted, so a slow first read still makes progress.
    """
    ranges: list[tuple[datetime, datetime]] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if ranges and ranges[-1][1] == piece.start and piece.end - ranges[-1][0] <= MAX_RANGE:
            ranges[-1] = (ranges[-1][0], piece.end)
        else:
            ranges.append((piece.start, piece.end))
    return ranges


def _add(into: Counts, counts: Counts) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def _store(series: Series, pieces: dict[Piece, Rollup]) -> None:
    if not pieces:
        return
    now = datetime.now(UTC)
    _rollups().bulk_write(
        [
            ReplaceOne(
                {"_id": _doc_id(series, piece)},
                {
                    "series": series.name,
                    "unit": piece.unit,
                    "start": piece.start,
                    "counts": rollup.counts,
                    "open": rollup.open,
                    "computed_at": now,
                    "expires_at": piece.end + KEEP[piece.unit],
                },
                upsert=True,
            )
            for piece, rollup in pieces.items()
        ],
        ordered=False,
    )


def _stored(series: Series, pieces: list[Piece]) -> dict[Piece, Rollup]:
    ids = {_doc_id(series, piece): piece for piece in pieces}
    if not ids:
        return {}
    found = _rollups().find({"_id": {"$in": list(ids)}}, {"counts": 1, "open": 1})
    return {ids[doc["_id"]]: Rollup(doc["counts"], doc.get("open") or []) for doc in found if doc["_id"] in ids}


def _from_documents(series: Series, pieces: list[Piece]) -> dict[Piece, Rollup]:
    """Rollups of pieces of one unit, one aggregation per run of adjacent pieces."""
    result: dict[Piece, Rollup] = {}
    unit = pieces[0].unit if pieces else "minute"
    for start, end in _ranges(pieces):
        match = _between(series, start, end)
        counts = _aggregate(series, unit, {**match, **series.settled_filter})
        open_keys: dict[datetime, list[Any]] = defaultdict(list)
        if series.open_filter is not None:
            # Few documents, found through the filter's index (task runs: status + queued_at).
            projection = {"_id": 0, series.key_field: 1, series.time_field: 1, series.user_field: 1}
            users = None if series.users is None else set(series.users)
            for doc in series.collection().find({**series.open_filter, **match}, projection):
                if users is None or doc.get(series.user_field) in users:
                    open_keys[floor(doc[series.time_field], unit)].append(doc[series.key_field])
        counted = {
            piece: Rollup(counts.get(piece.start, {}), open_keys.get(piece.start, []))
            for piece in pieces
            if start <= piece.start < end
        }
        _store(series, counted)
        result.update(counted)
    return result


def _resolve(series: Series, pieces: list[Piece]) -> dict[Piece, Rollup]:
    """Rollups of closed pieces: stored, aggregated from the documents, or summed from finer pieces.

    A piece of at most MAX_RANGE none of whose parts is stored yet is aggregated from the documents at its own
    unit (the first read of a window); others are summed from their parts, aggregating only the missing ones.
    """
    result = _stored(series, pieces)
    missing = [piece for piece in pieces if piece not in result]
    parts = {piece: _parts(series, piece) for piece in missing if piece.unit != series.levels[-1]}
    stored_parts = _stored(series, [part for group in parts.values() for part in group])
    fresh: dict[Piece, Rollup] = {}
    summed: list[Piece] = []
    for unit in series.levels:
        direct: list[Piece] = []
        for piece in (p for p in missing if p.unit == unit):
            whole = piece.end - piece.start <= MAX_RANGE and not any(q in stored_parts for q in parts.get(piece, []))
            (direct if whole else summed).append(piece)
        result.update(_from_documents(series, direct))  # stored range by range
    resolved_parts = _resolve(series, [part for piece in summed for part in parts[piece]]) if summed else {}
    for piece in summed:
        total = Rollup()
        for part in parts[piece]:
            _add(total.counts, resolved_parts[part].counts)
            total.open.extend(resolved_parts[part].open)
        fresh[piece] = total
    _store(series, fresh)
    result.update(fresh)
    return result


def _parts(series: Series, piece: Piece) -> list[Piece]:
    """The pieces of the series' next finer unit that make up `piece`."""
    unit = series.levels[series.levels.index(piece.unit) + 1]
    size = timedelta(seconds=UNIT_SECONDS[unit])
    count = UNIT_SECONDS[piece.unit] // UNIT_SECONDS[unit]
    return [Piece(unit, piece.start + size * i) for i in range(count)]


def _empty_bars(start: datetime, now: datetime, bar_unit: str) -> dict[datetime, Counts]:
    bars: dict[datetime, Counts] = {}
    moment = floor(start, bar_unit)
    while moment <= now:
        bars[moment] = {}
        moment += timedelta(seconds=UNIT_SECONDS[bar_unit])
    return bars


def for_users(series: Series, user_ids: Iterable[str]) -> Series:
    """The series of these users' documents only, with rollups of its own (stored units count everyone).

    Its stored units are named by a digest of the id set, so every operator whose data scope holds the same
    users shares them, and a changed set (a user moved) starts new ones; the old ones expire like any unit.
    """
    ids = sorted(set(user_ids))
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:20]
    return replace(series, name=f"{series.name}~{digest}", users=tuple(ids))


def window_counts(series: Series, *, start: datetime, now: datetime, bar_unit: str) -> dict[datetime, Counts]:
    """Counts per `bar_unit` (day/hour) of the documents from floor(start) up to now, every bar present."""
    pieces, tail = plan(series, start, now)
    bars = _empty_bars(start, now, bar_unit)
    open_keys: list[Any] = []
    for piece, rollup in _resolve(series, pieces).items():
        _add(bars.setdefault(floor(piece.start, bar_unit), {}), rollup.counts)
        open_keys.extend(rollup.open)
    live: list[dict[datetime, Counts]] = []
    if open_keys:  # documents of closed units that were still changing: counted as they are now
        live.append(_aggregate(series, bar_unit, {series.key_field: {"$in": open_keys}}))
    if tail < now:
        live.append(_aggregate(series, bar_unit, _between(series, tail, now)))
    for counts_by_bar in live:
        for bar, counts in counts_by_bar.items():
            _add(bars.setdefault(bar, {}), counts)
    return bars
