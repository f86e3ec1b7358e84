"""Validates a state machine definition (Amazon States Language, JSONPath query language) at
CreateStateMachine/UpdateStateMachine time, reporting problems the way Step Functions does:

    Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ... at /States/X/Field, ...'

Checked: JSON syntax; required and unknown fields per state type; ``Next``/``End`` rules and
transition targets (``MISSING_TRANSITION_TARGET``); unreachable states; Choice rules and the type
of each comparison value; Wait/Fail/Task field combinations; Retry and Catch; paths, reference
paths, payload templates and intrinsic calls; Parallel branches and Map processors recursively.
Hand-written: no maintained Python ASL validator exists (asl-validator is a Node tool).
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from ..errors import AwsError
from . import choice, payload
from . import paths as jp

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
_IO = ("InputPath", "OutputPath")
_FLOW = ("Next", "End")
_FIELDS: dict[str, set[str]] = {
    "Pass": {"Type", "Comment", *_FLOW, *_IO, "Parameters", "ResultPath", "Result"},
    "Task": {
        "Type",
        "Comment",
        *_FLOW,
        *_IO,
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": {"Type", "Comment", *_IO, "Choices", "Default"},
    "Wait": {"Type", "Comment", *_FLOW, *_IO, "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": {"Type", "Comment", *_IO},
    "Fail": {"Type", "Comment", "Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": {
        "Type",
        "Comment",
        *_FLOW,
        *_IO,
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "Branches",
    },
    "Map": {
        "Type",
        "Comment",
        *_FLOW,
        *_IO,
        "ItemsPath",
        "ItemSelector",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "Iterator",
        "ItemProcessor",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "Label",
        "ToleratedFailureCount",
        "ToleratedFailurePercentage",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
    },
}
_UNSUPPORTED_FIELDS = {
    "Assign": "workflow variables (Assign)",
    "Arguments": "the JSONata query language (Arguments)",
    "Output": "the JSONata query language (Output)",
    "QueryLanguage": "the JSONata query language",
    "ItemReader": "distributed Map (ItemReader)",
    "ResultWriter": "distributed Map (ResultWriter)",
    "ItemBatcher": "distributed Map (ItemBatcher)",
}
_MACHINE_FIELDS = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
_MAX_TIMEOUT = 99_999_999


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def schema(self, message: str, where: str) -> None:
        self.problems.append(f"SCHEMA_VALIDATION_FAILED: {message} at {where or '/'}")

    # ------------------------------------------------------------------ machine
    def machine(self, doc: Any, where: str, *, top: bool) -> None:
        if not isinstance(doc, dict):
            self.schema("The state machine definition must be a JSON object", where)
            return
        allowed = _MACHINE_FIELDS if top else {"StartAt", "States", "Comment", "ProcessorConfig"}
        for key in doc:
            if key not in allowed:
                self.schema(f"Field '{key}' is not supported", where)
        if top and "QueryLanguage" in doc and doc["QueryLanguage"] != "JSONPath":
            self.problems.append(
                f"UNSUPPORTED_FEATURE: QueryLanguage '{doc['QueryLanguage']}' is not supported by localcloud "
                f"(only JSONPath) at {where or '/'}QueryLanguage"
            )
        if (
            top
            and "TimeoutSeconds" in doc
            and not (_is_int(doc["TimeoutSeconds"]) and doc["TimeoutSeconds"] > 0)
        ):
            self.schema(
                "The value for the field 'TimeoutSeconds' must be POSITIVE_INTEGER", f"{where}/TimeoutSeconds"
            )
        states = doc.get("States")
        start = doc.get("StartAt")
        if not isinstance(start, str):
            self.schema(
                "These fields are required: [StartAt]"
                if start is None
                else "The value for the field 'StartAt' must be a STRING",
                f"{where}/StartAt" if start else where,
            )
        if not isinstance(states, dict) or not states:
            self.schema(
                "These fields are required: [States]"
                if states is None
                else "The field 'States' must be a non-empty JSON object",
                f"{where}/States" if states else where,
            )
            return
        for name, state in states.items():
            if len(name) > 80:
                self.schema(f"State name '{name[:80]}...' is longer than 80 characters", f"{where}/States")
            self.state(name, state, states, f"{where}/States/{name}")
        if isinstance(start, str) and start not in states:
            self.problems.append(
                f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {start} at {where}/StartAt"
            )
            return
        if isinstance(start, str):
            self.reachability(start, states, where)

    def reachability(self, start: str, states: dict[str, Any], where: str) -> None:
        seen = {start}
        queue = deque([start])
        while queue:
            state = states.get(queue.popleft())
            if not isinstance(state, dict):
                continue
            targets = [state.get("Next"), state.get("Default")]
            targets += [r.get("Next") for r in state.get("Choices") or [] if isinstance(r, dict)]
            targets += [c.get("Next") for c in state.get("Catch") or [] if isinstance(c, dict)]
            for target in targets:
                if isinstance(target, str) and target in states and target not in seen:
                    seen.add(target)
                    queue.append(target)
        for name in states:
            if name not in seen:
                self.problems.append(
                    f'MISSING_TRANSITION_TARGET: State "{name}" is not reachable. at {where}/States/{name}'
                )
        terminal = [
            n
            for n in seen
            if isinstance(states.get(n), dict)
            and (states[n].get("End") is True or states[n].get("Type") in ("Succeed", "Fail"))
        ]
        if not terminal:
            self.problems.append(f"MISSING_END_STATE: Workflow has no terminal state at {where or '/'}")

    # ------------------------------------------------------------------ states
    def state(self, name: str, state: Any, scope: dict[str, Any], where: str) -> None:
        if not isinstance(state, dict):
            self.schema("A state must be a JSON object", where)
            return
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            self.schema(
                "These fields are required: [Type]"
                if kind is None
                else f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]",
                f"{where}/Type" if kind is not None else where,
            )
            return
        for key in state:
            if key in _UNSUPPORTED_FIELDS:
                self.problems.append(
                    f"UNSUPPORTED_FEATURE: {_UNSUPPORTED_FIELDS[key]} is not supported by localcloud "
                    f"at {where}/{key}"
                )
            elif key not in _FIELDS[kind]:
                self.schema(f"Field '{key}' is not supported", f"{where}/{key}")
        self.flow(kind, state, scope, where)
        for field in _IO:
            if field in state and state[field] is not None:
                self.path(state[field], f"{where}/{field}")
        if "ResultPath" in state and state["ResultPath"] is not None:
            self.reference_path(state["ResultPath"], f"{where}/ResultPath")
        for field in ("Parameters", "ResultSelector", "ItemSelector"):
            if field in state:
                self.template(state[field], f"{where}/{field}")
        getattr(self, f"state_{kind.lower()}")(state, scope, where)
        if kind in ("Task", "Parallel", "Map"):
            self.retry(state.get("Retry"), where)
            self.catch(state.get("Catch"), scope, where)

    def flow(self, kind: str, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        if kind in ("Choice", "Succeed", "Fail"):
            return
        has_next, end = "Next" in state, state.get("End")
        if has_next and end is True:
            self.schema("The fields 'Next' and 'End' are mutually exclusive", where)
        elif not has_next and end is not True:
            self.schema("Either 'Next' or 'End: true' is required for a non-terminal state", where)
        if "End" in state and not isinstance(end, bool):
            self.schema("The value for the field 'End' must be a BOOLEAN", f"{where}/End")
        if has_next:
            self.target(state["Next"], scope, f"{where}/Next")

    def target(self, target: Any, scope: dict[str, Any], where: str) -> None:
        if not isinstance(target, str):
            self.schema("The value for the field must be a STRING naming a state", where)
        elif target not in scope:
            self.problems.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {where}")

    def path(self, value: Any, where: str) -> None:
        try:
            jp.check_path(value)
        except jp.PathError:
            self.schema(
                f"The value for the field '{where.rsplit('/', 1)[-1]}' must be a valid JSONPath", where
            )

    def reference_path(self, value: Any, where: str) -> None:
        try:
            jp.check_reference_path(value)
        except jp.PathError:
            self.schema(
                f"The value for the field '{where.rsplit('/', 1)[-1]}' must be a valid ReferencePath", where
            )

    def template(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            self.schema(f"The value for the field '{where.rsplit('/', 1)[-1]}' must be a JSON object", where)
            return
        try:
            payload.check_template(value, where)
        except payload.TemplateError as exc:
            self.schema(str(exc).rsplit(" at ", 1)[0], str(exc).rsplit(" at ", 1)[-1])

    def positive_int(
        self, state: dict[str, Any], field: str, where: str, *, allow_zero: bool = False
    ) -> None:
        if field in state:
            value = state[field]
            low = 0 if allow_zero else 1
            if not (_is_int(value) and low <= value <= _MAX_TIMEOUT):
                kind = "NON_NEGATIVE_INTEGER" if allow_zero else "POSITIVE_INTEGER"
                self.schema(f"The value for the field '{field}' must be {kind}", f"{where}/{field}")

    def exclusive(
        self, state: dict[str, Any], fields: tuple[str, ...], where: str, *, required: bool
    ) -> None:
        present = [f for f in fields if f in state]
        if len(present) > 1:
            self.schema(f"The fields {', '.join(repr(f) for f in present)} are mutually exclusive", where)
        elif required and not present:
            self.schema(f"Exactly one of these fields is required: [{', '.join(fields)}]", where)

    # ------------------------------------------------------------------ per type
    def state_pass(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        return None

    def state_succeed(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        return None

    def state_task(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        if not isinstance(state.get("Resource"), str):
            self.schema(
                "These fields are required: [Resource]"
                if "Resource" not in state
                else "The value for the field 'Resource' must be a STRING",
                where,
            )
        elif not state["Resource"].startswith("arn:"):
            self.schema("The value for the field 'Resource' must be a valid ARN", f"{where}/Resource")
        self.exclusive(state, ("TimeoutSeconds", "TimeoutSecondsPath"), where, required=False)
        self.exclusive(state, ("HeartbeatSeconds", "HeartbeatSecondsPath"), where, required=False)
        self.positive_int(state, "TimeoutSeconds", where)
        self.positive_int(state, "HeartbeatSeconds", where)
        for field in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if field in state:
                self.reference_path(state[field], f"{where}/{field}")
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
            self.schema(
                "The value of 'HeartbeatSeconds' must be less than the value of 'TimeoutSeconds'",
                f"{where}/HeartbeatSeconds",
            )

    def state_wait(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        self.exclusive(state, ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"), where, required=True)
        self.positive_int(state, "Seconds", where, allow_zero=True)
        if "Timestamp" in state and choice.parse_timestamp(state["Timestamp"]) is None:
            self.schema(
                "The value for the field 'Timestamp' must be a valid ISO-8601 timestamp (RFC 3339, e.g. "
                "2016-03-14T01:59:00Z)",
                f"{where}/Timestamp",
            )
        for field in ("SecondsPath", "TimestampPath"):
            if field in state:
                self.reference_path(state[field], f"{where}/{field}")

    def state_fail(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        self.exclusive(state, ("Error", "ErrorPath"), where, required=False)
        self.exclusive(state, ("Cause", "CausePath"), where, required=False)
        for field in ("Error", "Cause"):
            if field in state and not isinstance(state[field], str):
                self.schema(f"The value for the field '{field}' must be a STRING", f"{where}/{field}")
        for field in ("ErrorPath", "CausePath"):
            if field in state:
                value = state[field]
                if isinstance(value, str) and value.startswith("States."):
                    self.template({f"{field}.$": value}, where)
                else:
                    self.reference_path(value, f"{where}/{field}")

    def state_choice(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        rules = state.get("Choices")
        if not isinstance(rules, list) or not rules:
            self.schema("The field 'Choices' must be a non-empty array of Choice Rules", f"{where}/Choices")
        else:
            for i, rule in enumerate(rules):
                self.choice_rule(rule, scope, f"{where}/Choices[{i}]", top=True)
        if "Default" in state:
            self.target(state["Default"], scope, f"{where}/Default")

    def choice_rule(self, rule: Any, scope: dict[str, Any], where: str, *, top: bool) -> None:
        if not isinstance(rule, dict):
            self.schema("A Choice Rule must be a JSON object", where)
            return
        self.rule_next(rule, scope, where, top=top)
        combinators = [k for k in rule if k in choice.COMBINATORS]
        comparisons = [k for k in rule if k in choice.COMPARISONS]
        allowed = {"Next", "Comment", "Variable", *choice.COMBINATORS, *choice.COMPARISONS}
        for key in rule:
            if key not in allowed:
                self.schema(f"Field '{key}' is not supported in a Choice Rule", f"{where}/{key}")
        if len(combinators) + len(comparisons) != 1:
            self.schema(
                "A Choice Rule must have exactly one comparison operator or one of And, Or, Not", where
            )
        elif combinators:
            self.combinator(rule, combinators[0], scope, where)
        else:
            op = comparisons[0]
            if "Variable" not in rule:
                self.schema("These fields are required: [Variable]", where)
            else:
                self.reference_path(rule["Variable"], f"{where}/Variable")
            self.comparison_value(op, rule[op], f"{where}/{op}")

    def rule_next(self, rule: dict[str, Any], scope: dict[str, Any], where: str, *, top: bool) -> None:
        """A top-level Choice Rule needs a Next that names a state; a nested one must have none."""
        if top:
            if "Next" not in rule:
                self.schema("These fields are required: [Next]", where)
            else:
                self.target(rule["Next"], scope, f"{where}/Next")
        elif "Next" in rule:
            self.schema("Nested Choice Rules must not have a 'Next' field", f"{where}/Next")

    def combinator(self, rule: dict[str, Any], op: str, scope: dict[str, Any], where: str) -> None:
        """And/Or (a non-empty array of nested rules) or Not (one nested rule), without a Variable."""
        if "Variable" in rule:
            self.schema(f"A Choice Rule with '{op}' must not have a 'Variable' field", where)
        value = rule[op]
        if op == "Not":
            self.choice_rule(value, scope, f"{where}/Not", top=False)
        elif not isinstance(value, list) or not value:
            self.schema(
                f"The value for the field '{op}' must be a non-empty array of Choice Rules",
                f"{where}/{op}",
            )
        else:
            for i, sub in enumerate(value):
                self.choice_rule(sub, scope, f"{where}/{op}[{i}]", top=False)

    def comparison_value(self, op: str, value: Any, where: str) -> None:
        if op.endswith("Path"):
            self.reference_path(value, where)
        elif op in choice.TYPE_TESTS or op in choice.BOOLEAN_OPS:
            if not isinstance(value, bool):
                self.schema(f"The value for the field '{op}' must be a BOOLEAN", where)
        elif op in choice.NUMERIC_OPS:
            if not _is_number(value):
                self.schema(f"The value for the field '{op}' must be a NUMBER", where)
        elif op in choice.TIMESTAMP_OPS:
            if choice.parse_timestamp(value) is None:
                self.schema(f"The value for the field '{op}' must be a valid ISO-8601 timestamp", where)
        elif not isinstance(value, str):
            self.schema(f"The value for the field '{op}' must be a STRING", where)

    def state_parallel(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.schema(
                "The field 'Branches' must be a non-empty array of state machines", f"{where}/Branches"
            )
            return
        for i, branch in enumerate(branches):
            self.machine(branch, f"{where}/Branches[{i}]", top=False)

    def state_map(self, state: dict[str, Any], scope: dict[str, Any], where: str) -> None:
        self.exclusive(state, ("Iterator", "ItemProcessor"), where, required=True)
        self.exclusive(state, ("ItemSelector", "Parameters"), where, required=False)
        self.exclusive(state, ("MaxConcurrency", "MaxConcurrencyPath"), where, required=False)
        processor_field = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        processor = state.get(processor_field)
        if isinstance(processor, dict):
            config = processor.get("ProcessorConfig", {})
            if not isinstance(config, dict) or config.get("Mode", "INLINE") not in ("INLINE", "DISTRIBUTED"):
                self.schema(
                    "The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
                    f"{where}/{processor_field}/ProcessorConfig",
                )
            self.machine(processor, f"{where}/{processor_field}", top=False)
        elif processor is not None:
            self.schema(f"The field '{processor_field}' must be a JSON object", f"{where}/{processor_field}")
        if "ItemsPath" in state:
            self.reference_path(state["ItemsPath"], f"{where}/ItemsPath")
        self.positive_int(state, "MaxConcurrency", where, allow_zero=True)
        if "MaxConcurrencyPath" in state:
            self.reference_path(state["MaxConcurrencyPath"], f"{where}/MaxConcurrencyPath")

    # ------------------------------------------------------------------ errors
    def retry(self, retriers: Any, where: str) -> None:
        if retriers is None:
            return
        if not isinstance(retriers, list):
            self.schema("The field 'Retry' must be an array of Retriers", f"{where}/Retry")
            return
        allowed = {
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        }
        for i, retrier in enumerate(retriers):
            at = f"{where}/Retry[{i}]"
            if not isinstance(retrier, dict):
                self.schema("A Retrier must be a JSON object", at)
                continue
            for key in retrier:
                if key not in allowed:
                    self.schema(f"Field '{key}' is not supported in a Retrier", f"{at}/{key}")
            self.error_equals(retrier.get("ErrorEquals"), at, last=i == len(retriers) - 1)
            self.positive_int(retrier, "IntervalSeconds", at)
            self.positive_int(retrier, "MaxAttempts", at, allow_zero=True)
            self.positive_int(retrier, "MaxDelaySeconds", at)
            if "BackoffRate" in retrier and not (
                _is_number(retrier["BackoffRate"]) and retrier["BackoffRate"] >= 1.0
            ):
                self.schema(
                    "The value for the field 'BackoffRate' must be a NUMBER greater than or equal to 1.0",
                    f"{at}/BackoffRate",
                )
            if retrier.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
                self.schema(
                    "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
                    f"{at}/JitterStrategy",
                )

    def catch(self, catchers: Any, scope: dict[str, Any], where: str) -> None:
        if catchers is None:
            return
        if not isinstance(catchers, list):
            self.schema("The field 'Catch' must be an array of Catchers", f"{where}/Catch")
            return
        for i, catcher in enumerate(catchers):
            at = f"{where}/Catch[{i}]"
            if not isinstance(catcher, dict):
                self.schema("A Catcher must be a JSON object", at)
                continue
            for key in catcher:
                if key not in {"ErrorEquals", "Next", "ResultPath", "Comment"}:
                    self.schema(f"Field '{key}' is not supported in a Catcher", f"{at}/{key}")
            self.error_equals(catcher.get("ErrorEquals"), at, last=i == len(catchers) - 1)
            if "Next" not in catcher:
                self.schema("These fields are required: [Next]", at)
            else:
                self.target(catcher["Next"], scope, f"{at}/Next")
            if catcher.get("ResultPath") is not None:
                self.reference_path(catcher["ResultPath"], f"{at}/ResultPath")

    def error_equals(self, names: Any, where: str, *, last: bool) -> None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.schema(
                "The field 'ErrorEquals' must be a non-empty array of strings", f"{where}/ErrorEquals"
            )
            return
        if "States.ALL" in names and (len(names) > 1 or not last):
            self.schema(
                "'States.ALL' must appear alone in 'ErrorEquals' and in the last Retrier/Catcher",
                f"{where}/ErrorEquals",
            )


def parse_definition(text: Any) -> dict[str, Any]:
    """The definition as a dict, or AWS's InvalidDefinition error listing every problem found."""
    if not isinstance(text, str):
        raise AwsError(
            "InvalidDefinition", "Invalid State Machine Definition: 'definition must be a JSON string'"
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AwsError(
            "InvalidDefinition",
            f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}'",
        ) from None
    checker = _Checker()
    checker.machine(doc, "", top=True)
    if checker.problems:
        raise AwsError(
            "InvalidDefinition", f"Invalid State Machine Definition: '{', '.join(checker.problems)}'"
        )
    return dict(doc)
