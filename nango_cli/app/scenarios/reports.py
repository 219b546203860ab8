"""CI outputs for `scenario run` and `check`: JUnit XML (one testsuite per scenario,
one testcase per step, a failure carrying expected vs happened), read by GitHub,
GitLab and Jenkins reporters; and a Markdown table for GitHub's job summary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nango_cli.support.text import terminal_safe

# Characters XML 1.0 cannot carry (a handler's answer may hold any byte).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Case:
    name: str
    verdict: str  # pass, fail, warn, not judged, skipped
    expected: str = ""
    happened: str = ""
    cause: str | None = None
    seconds: float = 0.0
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.verdict == "fail" or (self.verdict == "not judged" and self.required)


@dataclass
class Suite:
    name: str
    cases: list[Case]
    seconds: float = 0.0
    properties: dict[str, str] = field(default_factory=dict)
    timestamp: str = ""


def suite_of_run(run: Any) -> Suite:
    """A scenario's run (results.RunResult) as a suite: one case per step."""
    cases = []
    for result in run.steps:
        outcomes = result.outcomes
        bad = [o for o in outcomes if o.ok is not True] or outcomes
        cases.append(
            Case(
                name=result.step.name,
                verdict=result.verdict,
                expected="; ".join(o.expected for o in bad) or (result.note or ""),
                happened="; ".join(o.happened for o in bad) or (result.note or ""),
                cause=result.cause,
                seconds=result.seconds,
                required=result.step.required,
            )
        )
    properties = {"connection": run.connection}
    if run.api_url:
        properties["api"] = run.api_url
    if run.scenario.source:
        properties["file"] = run.scenario.source
    return Suite(run.scenario.name, cases, run.seconds, properties)


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(suites: list[Suite]) -> bytes:
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="nango-hooks")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for suite in suites:
        failures = sum(1 for c in suite.cases if c.failed)
        skipped = sum(1 for c in suite.cases if c.verdict == "skipped")
        node = ET.SubElement(
            root,
            "testsuite",
            name=_clean(suite.name),
            tests=str(len(suite.cases)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{suite.seconds:.3f}",
        )
        if suite.timestamp:
            node.set("timestamp", suite.timestamp)
        if suite.properties:
            props = ET.SubElement(node, "properties")
            for key, value in suite.properties.items():
                ET.SubElement(props, "property", name=key, value=_clean(value))
        for case in suite.cases:
            item = ET.SubElement(
                node,
                "testcase",
                classname=_clean(f"nango-hooks.{suite.name}"),
                name=_clean(case.name),
                time=f"{case.seconds:.3f}",
            )
            detail = f"expected: {case.expected}\nhappened: {case.happened}"
            if case.cause:
                detail += f"\ncause: {case.cause}"
            if case.failed:
                failure = ET.SubElement(
                    item, "failure", message=_clean(case.happened[:500]), type=case.verdict
                )
                failure.text = _clean(detail)
            elif case.verdict == "skipped":
                ET.SubElement(item, "skipped", message=_clean(case.happened[:500]))
            elif case.verdict in ("warn", "not judged"):
                out = ET.SubElement(item, "system-out")
                out.text = _clean(f"{case.verdict}\n{detail}")
        totals["tests"] += len(suite.cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
    for key, total in totals.items():
        root.set(key, str(total))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document


def write_junit(path: Path, suites: list[Suite]) -> Path | None:
    """Write the JUnit file; the file written when `path` was a link to it, else None."""
    from nango_cli.support import files

    written = files.atomic_write(path, junit_xml(suites))
    return written.path if written.through_symlink else None


_MARK = {"pass": "✅", "fail": "❌", "warn": "⚠️", "not judged": "❔", "skipped": "⏭️"}


# What Markdown would act on in a cell: links, images, emphasis, code, headings.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def _cell(text: str) -> str:
    """Text for one Markdown table cell: one line; controls, bidi and format characters
    shown as escapes (terminal_safe); HTML and Markdown escaped, so a name or an answer
    from the handler renders as text (no link, no image, no table break)."""
    text = terminal_safe(" ".join(text.split()), keep_newlines=False)
    text = _NOT_XML.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)[:300]


# GitHub refuses a step's job summary over 1 MiB (and shows none of it).
SUMMARY_LIMIT = 1024 * 1024
_TRUNCATED = (
    "\n_… {n} more step(s) not shown: the summary stays under GitHub's 1 MiB limit; "
    "the JUnit report (`--junit`) has every step._\n"
)


def summary_markdown(suites: list[Suite], title: str, limit: int = SUMMARY_LIMIT) -> str:
    """The Markdown summary: a table per suite, at most `limit` bytes (UTF-8): the
    steps past it are counted, not shown."""
    header = f"### {_cell(title)}\n\n"
    parts = [header]
    size = len(header.encode())
    reserve = len(_TRUNCATED.encode()) + 20
    left_out = 0
    for suite in suites:
        failed = sum(1 for c in suite.cases if c.failed)
        state = f"{failed} failed" if failed else "all passed"
        block = (
            f"**{_cell(suite.name)}**: {len(suite.cases)} step(s), {state} "
            f"({suite.seconds:.1f}s)\n\n| | step | expected | happened |\n|---|---|---|---|\n"
        )
        rows = []
        for case in suite.cases:
            happened = case.happened + (f" (cause: {case.cause})" if case.cause else "")
            rows.append(
                f"| {_MARK.get(case.verdict, '')} | {_cell(case.name)} | "
                f"{_cell(case.expected)} | {_cell(happened)} |\n"
            )
        for text in (block, *rows, "\n"):
            cost = len(text.encode())
            if left_out or size + cost + reserve > limit:
                left_out += text.startswith("| ")
                continue
            parts.append(text)
            size += cost
    if left_out:
        parts.append(_TRUNCATED.format(n=left_out))
    return "".join(parts)


def write_summary(path: Path, suites: list[Suite], title: str) -> Path | None:
    """--summary-md: the summary written (0600, atomically); the file written when
    `path` was a link to it, else None."""
    from nango_cli.support import files

    written = files.atomic_write(path, summary_markdown(suites, title).encode())
    return written.path if written.through_symlink else None


def append_github_summary(path: str, suites: list[Suite], title: str) -> None:
    """Append to GitHub's job summary file (GITHUB_STEP_SUMMARY): GitHub's file, opened
    for appending, its mode left alone; within what the 1 MiB leaves after what the
    step wrote before."""
    import os

    used = os.path.getsize(path) if os.path.exists(path) else 0
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(summary_markdown(suites, title, max(SUMMARY_LIMIT - used, 4096)))
