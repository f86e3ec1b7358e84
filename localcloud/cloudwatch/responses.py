"""CloudWatch metric reads over ``models.MetricSource``: ListMetrics, GetMetricStatistics and
GetMetricData, with CloudWatch's aggregation and checks.

Points are grouped into ``Period``-second buckets from ``StartTime`` (rounded down to the minute
for periods of a minute or more, to the second otherwise, as CloudWatch aligns them); each bucket
with points is one datapoint, stamped with the bucket's start, carrying the asked statistics
(SampleCount, Average, Sum, Minimum, Maximum, and percentiles ``pNN``/``pNN.N`` by nearest rank).
Metric math (``Expression``) answers a clear "not supported by localcloud" error. Hand-written:
no library implements CloudWatch's statistics API. Timestamps are taken as datetimes or epoch
seconds (whichever protocol brought them) and given back as UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from ..errors import AwsError
from ..paging import BadToken, TokenFormat, offset_page
from .models import MetricSource, Series

Handler = Callable[[dict[str, Any]], dict[str, Any]]
MAX_DATAPOINTS = 1440
LIST_PAGE = 500
_TOKENS = TokenFormat(urlsafe=True)  # base64url of {"o": offset}
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")
BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message)


def epoch(value: Any, field: str) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _invalid(f"The parameter {field} must be a timestamp.")


def stamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def statistic(name: str, values: list[float]) -> float:
    if name == "SampleCount":
        return float(len(values))
    if name == "Average":
        return sum(values) / len(values)
    if name == "Sum":
        return float(sum(values))
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    match = _PERCENTILE.match(name)
    if not match:
        raise _invalid(f"The statistic {name} is not supported by localcloud ({', '.join(BASIC)}, pNN)")
    ordered = sorted(values)
    rank = max(1, math.ceil(float(match.group(1)) / 100 * len(ordered)))
    return ordered[rank - 1]


def buckets(
    points: tuple[tuple[float, float], ...], start: float, end: float, period: int
) -> list[tuple[float, list[float]]]:
    """(bucket start, values) for every ``period`` bucket of [start, end) holding points; ``start``
    is first rounded down (see the module docstring), so its bucket starts on the minute."""
    origin = math.floor(start / 60) * 60 if period >= 60 else math.floor(start)
    grouped: dict[int, list[float]] = {}
    for ts, value in points:
        if origin <= ts < end:
            grouped.setdefault(int((ts - origin) // period), []).append(value)
    return [(origin + k * period, grouped[k]) for k in sorted(grouped)]


def _check_window(start: float, end: float, period: int) -> None:
    if start >= end:
        raise _invalid("The parameter StartTime must be less than the parameter EndTime.")
    if period not in (1, 5, 10, 20, 30) and period % 60:
        raise _invalid("The parameter Period must be 1, 5, 10, 20, 30, or a multiple of 60.")


class CloudWatchApi:
    def __init__(self, source: MetricSource) -> None:
        self.source = source
        self.operations: dict[str, Handler] = {
            "ListMetrics": self.list_metrics,
            "GetMetricStatistics": self.get_metric_statistics,
            "GetMetricData": self.get_metric_data,
        }

    def list_metrics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace, name = params.get("Namespace"), params.get("MetricName")
        filters = params.get("Dimensions") or []
        since = dt.datetime.now(dt.UTC).timestamp() - 3 * 3600 if params.get("RecentlyActive") else None
        found = []
        for metric in self.source.metrics(active_since=since):
            if (namespace and metric.namespace != namespace) or (name and metric.name != name):
                continue
            dims = dict(metric.dimensions)
            if any(
                f["Name"] not in dims or ("Value" in f and dims[f["Name"]] != f["Value"]) for f in filters
            ):
                continue
            found.append(
                {
                    "Namespace": metric.namespace,
                    "MetricName": metric.name,
                    "Dimensions": metric.dimension_list(),
                }
            )
        try:
            page, token = offset_page(found, params.get("NextToken"), LIST_PAGE, field="o", tokens=_TOKENS)
        except BadToken as exc:
            raise _invalid("The parameter NextToken is not valid.") from exc
        return {"Metrics": page, **({"NextToken": token} if token else {})}

    def get_metric_statistics(self, params: dict[str, Any]) -> dict[str, Any]:
        stats = list(params.get("Statistics") or [])
        extended = list(params.get("ExtendedStatistics") or [])
        if not stats and not extended:
            raise AwsError("MissingParameter", "Must specify either Statistics or ExtendedStatistics.")
        if stats and extended:
            raise AwsError(
                "InvalidParameterCombination",
                "Statistics and ExtendedStatistics are mutually exclusive parameters.",
            )
        for name in extended:
            statistic(name, [0.0])  # an invalid percentile fails before any work
        start, end = epoch(params["StartTime"], "StartTime"), epoch(params["EndTime"], "EndTime")
        period = int(params["Period"])
        _check_window(start, end, period)
        requested = math.ceil((end - start) / period)
        if requested > MAX_DATAPOINTS:
            raise AwsError(
                "InvalidParameterCombination",
                f"You have requested up to {requested} datapoints, which exceeds the limit of "
                f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
                "or decreasing the time range.",
            )
        series = self.source.find(params["Namespace"], params["MetricName"], params.get("Dimensions"))
        unit = params.get("Unit")
        datapoints = []
        if series is not None and unit in (None, "None"):
            for bucket, values in buckets(series.points, start, end, period):
                point: dict[str, Any] = {"Timestamp": stamp(bucket), "Unit": "None"}
                for name in stats:
                    point[name] = statistic(name, values)
                if extended:
                    point["ExtendedStatistics"] = {name: statistic(name, values) for name in extended}
                datapoints.append(point)
        return {"Label": params["MetricName"], "Datapoints": datapoints}

    def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        start, end = epoch(params["StartTime"], "StartTime"), epoch(params["EndTime"], "EndTime")
        descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
        limit = int(params.get("MaxDatapoints") or 100_800)
        if params.get("NextToken"):
            raise _invalid("The parameter NextToken is not valid (localcloud answers in one page).")
        results = []
        for query in params["MetricDataQueries"]:
            if query.get("Expression"):
                raise _invalid(f"MetricDataQueries {query['Id']}: metric math is not supported by localcloud")
            stat = query.get("MetricStat")
            if not stat:
                raise AwsError(
                    "InvalidParameterCombination",
                    f"MetricDataQueries {query['Id']}: exactly one of MetricStat and Expression is required",
                )
            period = int(stat["Period"])
            _check_window(start, end, period)
            metric = stat["Metric"]
            series = self.source.find(
                metric.get("Namespace", ""), metric.get("MetricName", ""), metric.get("Dimensions")
            )
            pairs = self._stat_pairs(series, stat, start, end, period)
            if descending:
                pairs.reverse()
            pairs = pairs[:limit]
            if query.get("ReturnData", True) is False:
                continue
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label") or metric.get("MetricName", query["Id"]),
                    "Timestamps": [stamp(t) for t, _ in pairs],
                    "Values": [v for _, v in pairs],
                    "StatusCode": "Complete",
                    "Messages": [],
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    @staticmethod
    def _stat_pairs(
        series: Series | None, stat: dict[str, Any], start: float, end: float, period: int
    ) -> list[tuple[float, float]]:
        name = stat["Stat"]
        statistic(name, [0.0])  # reject an unknown statistic even when there is no data
        if series is None or stat.get("Unit") not in (None, "None"):
            return []
        return [
            (bucket, statistic(name, values)) for bucket, values in buckets(series.points, start, end, period)
        ]
