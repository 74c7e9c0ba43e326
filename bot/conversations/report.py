"""The Markdown report of a conversation test run: pass rates (overall, per file, per tag), then each
failed conversation with its first failing check and the whole exchange."""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bot.conversations.runner import ConversationResult, RunResult


def rates(results: list[ConversationResult], key) -> list[tuple[str, int, int]]:
    """(group, passed, total) for every group `key(result)` yields (a result may be in several)."""
    passed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for r in results:
        for group in key(r):
            total[group] += 1
            passed[group] += r.passed
    return [(g, passed[g], total[g]) for g in sorted(total)]


def markdown(run: RunResult) -> str:
    lines = [
        "# Conversation tests",
        "",
        f"- when: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- mode: {run.mode}; models: {run.version or '-'}; {run.seconds:.0f} s",
        f"- **passed {run.passed} of {len(run.results)} ({100 * run.pass_rate:.1f}%)**",
        "",
    ]
    for title, key in (
        ("file", lambda r: [r.conversation.source.split("#")[0]]),
        ("tag", lambda r: list(r.conversation.tags) or ["(none)"]),
    ):
        groups = rates(run.results, key)
        if len(groups) > 1 or title == "file":
            lines += [f"| {title} | passed | total | rate |", "|---|---:|---:|---:|"]
            lines += [f"| {g} | {p} | {t} | {100 * p / t:.0f}% |" for g, p, t in groups]
            lines.append("")
    failed = [r for r in run.results if r.failure is not None]
    if failed:
        lines += ["## Failures", ""]
        for r in failed:
            f = r.failure
            assert f is not None
            where = f"step {f.step}" if f.step else "outcome"
            lines += [
                f"### {_md(r.conversation.name)} ({r.conversation.source})",
                "",
                f"- **{f.check}** at {where}: {_md(f.message)}",
            ]
            if f.said is not None:
                lines.append(f"- caller: {_md(f.said)}")
            lines.append(f"- bot: {_md(f.reply or '')}")
            if f.step:
                slots = ", ".join(f"{k}={v}" for k, v in f.slots.items()) or "none"
                lines.append(f"- intent: {f.intent}; slots: {_md(slots)}")
            lines += ["", "<details><summary>exchange</summary>", ""]
            for caller, bot in r.transcript:
                if caller:
                    lines.append(f"> **caller:** {_md(caller)}  ")
                lines.append(f"> bot: {_md(bot)}  ")
            lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def write_report(run: RunResult, path: Path) -> Path:
    """Write the Markdown report atomically (a partial file never replaces a complete one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(markdown(run))
    os.replace(tmp, path)
    return path


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
