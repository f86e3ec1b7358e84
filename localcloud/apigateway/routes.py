"""HTTP API route keys and how a request picks one, as API Gateway HTTP APIs do.

A route key is ``"<METHOD> <path>"`` (``ANY`` matches every method) or ``$default``. Paths may
hold ``{name}`` variables (one segment) and a final greedy ``{name+}``. Among the routes that
match, the most specific wins: a path without variables, then more literal segments, then no
greedy variable, then a specific method over ``ANY``; ``$default`` comes last. Path variables are
URL-decoded. Hand-written: a few lines of regex, no routing library needed.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

_VARIABLE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


@dataclass(frozen=True)
class Route:
    api_id: str
    route_key: str
    function: str
    timeout_ms: int
    stage: str
    method: str
    path: str
    pattern: re.Pattern[str] | None
    literal_segments: int
    names: tuple[str, ...]
    greedy: bool

    @classmethod
    def from_doc(cls, doc: dict[str, Any], stage: str = "$default") -> Route:
        key = doc["routeKey"]
        if key == "$default":
            return cls(
                doc["apiId"],
                key,
                doc["function"],
                int(doc.get("timeoutMs", 30000)),
                stage,
                "ANY",
                "",
                None,
                0,
                (),
                True,
            )
        method, _, path = key.partition(" ")
        parts = []
        names: list[str] = []
        literal = 0
        greedy = False
        segments = [s for s in path.split("/") if s != ""]
        for i, segment in enumerate(segments):
            match = _VARIABLE.match(segment)
            if match is None:
                literal += 1
                parts.append(re.escape(segment))
                continue
            name, plus = match.groups()
            group = f"v{len(names)}"
            names.append(name)
            if plus:
                if i != len(segments) - 1:
                    raise ValueError(f"route {key}: a greedy variable {{{name}+}} must be the last segment")
                greedy = True
                parts.append(f"(?P<{group}>.+)")
            else:
                parts.append(f"(?P<{group}>[^/]+)")
        regex = "^/" + "/".join(parts) + "/?$" if parts else "^/?$"
        return cls(
            doc["apiId"],
            key,
            doc["function"],
            int(doc.get("timeoutMs", 30000)),
            stage,
            method.upper(),
            path,
            re.compile(regex),
            literal,
            tuple(names),
            greedy,
        )

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.pattern is None:
            return {}
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        return {
            self.names[int(group[1:])]: urllib.parse.unquote(value)
            for group, value in found.groupdict().items()
        }

    def priority(self) -> tuple[int, int, int, int, int]:
        """Smaller sorts first: most specific routes win."""
        return (
            self.pattern is None,
            len(self.names) > 0,
            -self.literal_segments,
            self.greedy,
            self.method == "ANY",
        )


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=Route.priority)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None
