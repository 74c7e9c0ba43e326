"""Conversation tests: scripted callers run against the real dialogue, scored by task success.

`spec` reads the YAML files, `runner` plays each conversation on fresh dialogue state (through
`Bot.handle`, as calls and `callbot shell` do) against a fresh reservation store, `checks` judges the
steps and the outcome, `report` writes the Markdown report and the JSON summary.
"""
