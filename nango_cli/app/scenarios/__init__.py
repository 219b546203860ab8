"""Scenarios: a connection's lifecycle as steps (webhooks, API faults, waits), each with
expectations on what the handler does: its answers, its fetches, the records it holds.

model.py (what a scenario is), schema.py (the file format, validated with line and
column), files.py (reading YAML or JSON), refs.py (`${steps.NAME…}` references),
steps.py (a step's webhooks), judge.py (the expectations), runner.py (running one,
with the API stand-in), reports.py (JUnit XML, GitHub's summary), record.py (history
to a scenario; a starter file). `check` is a built-in scenario run by the same runner.
"""
