"""A state machine drawn as a graph: layout from its ASL, state outcomes from its execution history.

``layout(definition)`` places every top-level state in layers (top to bottom, from ``StartAt``):
a state's layer is the longest chain of forward transitions that reaches it (transitions back to
a state already on the path, such as a Wait/Choice polling loop, are drawn as loops and do not
push layers). Transitions are ``Next``, each ``Choices[].Next`` (labelled ``choice``), ``Default``
(``default``) and each ``Catch[].Next`` (``catch``). A Parallel or Map state is one compact box
that lists its inner states (its branches' or its ItemProcessor's).

``outcomes(events, status)`` reads a GetExecutionHistory event list and says, per state name,
``succeeded``, ``failed``, ``caught`` (an error the state's Catch handled) or ``running``, and which
state is current. ``svg(graph, outcomes, current)`` draws it.

Hand-written: the layout needs no more than a longest-path layering (graphviz/ELK would be an
external binary or a JavaScript bundle); relies on markupsafe for escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

BOX_W, BOX_H = 170, 40
GAP_X, GAP_Y = 40, 34
MARGIN = 20
LINE_H = 13  # one inner-state line of a compact Parallel/Map box


@dataclass
class Node:
    name: str
    type: str
    layer: int = 0
    column: int = 0
    x: float = 0.0
    y: float = 0.0
    w: float = BOX_W
    h: float = BOX_H
    inner: list[str] = field(default_factory=list)  # a Parallel/Map's states


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # next | choice | default | catch


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float
    start: str


def transitions(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(target, kind) for each transition out of one state, in the order the ASL lists them."""
    out: list[tuple[str, str]] = []
    if isinstance(state.get("Next"), str):
        out.append((state["Next"], "next"))
    for choice in state.get("Choices") or []:
        if isinstance(choice, dict) and isinstance(choice.get("Next"), str):
            out.append((choice["Next"], "choice"))
    if isinstance(state.get("Default"), str):
        out.append((state["Default"], "default"))
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            out.append((catcher["Next"], "catch"))
    return out


def inner_states(state: dict[str, Any]) -> list[str]:
    """The state names inside a Parallel (every branch) or Map (Iterator/ItemProcessor)."""
    machines = list(state.get("Branches") or [])
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            machines.append(state[key])
    names: list[str] = []
    for machine in machines:
        if isinstance(machine, dict):
            names.extend(str(n) for n in (machine.get("States") or {}))
    return names


def _forward_order(states: dict[str, Any], start: str) -> tuple[list[str], set[tuple[str, str]]]:
    """States in depth-first discovery order from ``start`` and the back edges (to a state on the path)."""
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    seen: set[str] = set()
    on_path: set[str] = set()
    stack: list[tuple[str, list[str]]] = []

    def enter(name: str) -> None:
        seen.add(name)
        on_path.add(name)
        order.append(name)
        targets = [t for t, _ in transitions(states[name]) if t in states]
        stack.append((name, targets))

    roots = [start] + [n for n in states if n != start]
    for root in roots:
        if root in seen or root not in states:
            continue
        enter(root)
        while stack:
            name, targets = stack[-1]
            if not targets:
                on_path.discard(name)
                stack.pop()
                continue
            target = targets.pop(0)
            if target in on_path:
                back.add((name, target))
            elif target not in seen:
                enter(target)
    return order, back


def layout(definition: dict[str, Any]) -> Graph:
    """Place the definition's top-level states (see the module docstring)."""
    states: dict[str, Any] = {str(k): v for k, v in (definition.get("States") or {}).items()}
    start = str(definition.get("StartAt", next(iter(states), "")))
    order, back = _forward_order(states, start)
    nodes = {
        name: Node(name, str(states[name].get("Type", "?")), inner=inner_states(states[name]))
        for name in order
    }
    edges = [Edge(name, t, kind) for name in order for t, kind in transitions(states[name]) if t in states]
    for name in order:  # longest path over forward edges, in discovery order (a topological order)
        for edge in edges:
            if edge.source == name and (edge.source, edge.target) not in back:
                nodes[edge.target].layer = max(nodes[edge.target].layer, nodes[name].layer + 1)
    return _place(nodes, edges, start)


def _place(nodes: dict[str, Node], edges: list[Edge], start: str) -> Graph:
    layers: dict[int, list[Node]] = {}
    for node in nodes.values():
        node.h = BOX_H + LINE_H * min(len(node.inner), 6)
        layers.setdefault(node.layer, []).append(node)
    widest = max((len(row) for row in layers.values()), default=1)
    width = 2 * MARGIN + widest * BOX_W + (widest - 1) * GAP_X + 60  # room for loop arcs on the right
    y = float(MARGIN)
    for layer in sorted(layers):
        row = layers[layer]
        row_w = len(row) * BOX_W + (len(row) - 1) * GAP_X
        x = MARGIN + (width - 60 - 2 * MARGIN - row_w) / 2
        for column, node in enumerate(row):
            node.column, node.x, node.y = column, x + column * (BOX_W + GAP_X), y
        y += max(n.h for n in row) + GAP_Y
    return Graph(nodes, edges, width, y - GAP_Y + MARGIN, start)


# ---------------------------------------------------------------------- outcomes from history
FAILURE_EVENTS = ("Failed", "TimedOut", "Aborted")


@dataclass
class Outcomes:
    status: dict[str, str]  # state name -> succeeded | failed | caught | running
    visits: dict[str, int]
    current: str | None


def outcomes(events: list[dict[str, Any]], execution_status: str) -> Outcomes:
    """Each visited state's outcome (see the module docstring) from GetExecutionHistory events."""
    status: dict[str, str] = {}
    visits: dict[str, int] = {}
    pending: list[str] = []  # entered, not exited, most recent last
    failed: set[str] = set()  # pending states that saw an error event
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            name = str(event.get("stateEnteredEventDetails", {}).get("name", ""))
            for earlier in [p for p in pending if p in failed]:  # the run went on: the error was caught
                status[earlier] = "caught"
                pending.remove(earlier)
            status[name] = "running"
            visits[name] = visits.get(name, 0) + 1
            pending.append(name)
            failed.discard(name)
        elif kind.endswith("StateExited"):
            name = str(event.get("stateExitedEventDetails", {}).get("name", ""))
            status[name] = "caught" if name in failed else "succeeded"
            if name in pending:
                pending.remove(name)
            failed.discard(name)
        elif kind.endswith(FAILURE_EVENTS) and pending:
            failed.add(pending[-1])
    current = pending[-1] if pending and execution_status == "RUNNING" else None
    if execution_status != "RUNNING":
        for name in pending:  # the execution ended inside these states
            status[name] = "failed" if execution_status != "SUCCEEDED" else "succeeded"
    return Outcomes(status, visits, current)


# ---------------------------------------------------------------------- drawing
def _edge_path(graph: Graph, edge: Edge) -> str:
    a, b = graph.nodes[edge.source], graph.nodes[edge.target]
    if b.layer > a.layer:  # downwards: bottom centre to top centre
        x1, y1, x2, y2 = a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y
        mid = (y1 + y2) / 2
        return f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
    # a loop back (or sideways): out of the right side, around, into the target's right side
    x1, y1 = a.x + a.w, a.y + a.h / 2
    x2, y2 = b.x + b.w, b.y + b.h / 2
    bulge = max(x1, x2) + 40 + 8 * abs(a.layer - b.layer)
    return f"M{x1:.0f},{y1:.0f} C{bulge:.0f},{y1:.0f} {bulge:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"


def _node_svg(node: Node, state: str, visits: int, current: bool) -> str:
    classes = f"state t-{node.type.lower()} o-{state}" + (" current" if current else "")
    marker = ' data-current="true"' if current else ""
    centre = node.x + node.w / 2
    lines = [
        f'<g class="{classes}" data-state="{escape(node.name)}" data-outcome="{state}"{marker}>',
        f"<title>{escape(node.name)} ({escape(node.type)}): {state}"
        f"{f', {visits} visits' if visits > 1 else ''}</title>",
        f'<rect x="{node.x:.0f}" y="{node.y:.0f}" width="{node.w:.0f}" height="{node.h:.0f}" rx="6"/>',
        f'<text x="{centre:.0f}" y="{node.y + 17:.0f}" class="name">{escape(node.name[:24])}</text>',
        f'<text x="{centre:.0f}" y="{node.y + 31:.0f}" class="kind">{escape(node.type)}'
        f"{f' x{visits}' if visits > 1 else ''}</text>",
    ]
    for i, inner in enumerate(node.inner[:6]):
        label = inner if i < 5 or len(node.inner) == 6 else f"… {len(node.inner) - 5} more"
        lines.append(
            f'<text x="{node.x + 10:.0f}" y="{node.y + BOX_H + 8 + i * LINE_H:.0f}" class="inner">'
            f"{escape(label[:26])}</text>"
        )
    lines.append("</g>")
    return "".join(lines)


def svg(graph: Graph, result: Outcomes | None = None) -> Markup:
    """The graph as an inline ``<svg>``: edges (classed by kind), then state boxes (classed by outcome)."""
    result = result or Outcomes({}, {}, None)
    parts = [
        f'<svg class="graph" viewBox="0 0 {graph.width:.0f} {graph.height:.0f}" '
        f'width="{graph.width:.0f}" height="{graph.height:.0f}" role="img" aria-label="state machine">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ]
    for edge in graph.edges:
        taken = " taken" if edge.source in result.status and edge.target in result.status else ""
        parts.append(
            f'<path class="edge e-{edge.kind}{taken}" d="{_edge_path(graph, edge)}" marker-end="url(#arrow)">'
            f"<title>{escape(edge.source)} → {escape(edge.target)} ({edge.kind})</title></path>"
        )
    for node in graph.nodes.values():
        state = result.status.get(node.name, "unvisited")
        parts.append(_node_svg(node, state, result.visits.get(node.name, 0), node.name == result.current))
    parts.append("</svg>")
    return Markup("".join(parts))
