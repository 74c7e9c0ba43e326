"""Conversation suites in a comparison: every conversation of `console.conversations` (the YAML suites
of `callbot test conversations`, bundled and held out) played as text with production and with the
candidate, each version loaded once; per suite the pass rates and the conversations that flipped.

Blocking (a model load per version, then every conversation): it runs in the comparison's job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callbot.config import Config
from console import ConsoleError
from console.models import ConversationSetResult


def compare_conversations(
    config: Config,
    models_dir: Path,
    production: str,
    candidate: str,
    suite_paths: tuple[Path, ...] | list[Path],
    say: Callable[[str], None] = lambda line: None,
) -> list[ConversationSetResult]:
    """Play the suites under `suite_paths` (each path, a file or a folder, is one set) with both versions."""
    from bot.conversations.runner import run_text
    from bot.conversations.spec import ConversationSpecError, load_suites
    from bot.models import ModelNotFoundError

    try:
        sets = {p.name: load_suites([p]) for p in suite_paths}
    except ConversationSpecError as exc:
        raise ConsoleError(str(exc)) from exc
    suites = list({s.path: s for group in sets.values() for s in group}.values())  # a file played once
    keys = [(s.path, i) for s in suites for i in range(len(s.conversations))]
    config = _with_models_dir(config, models_dir)
    silence = _silence(config)
    passed: dict[str, dict[tuple[Path, int], Any]] = {}
    for version in (production, candidate):
        say(f"conversations: playing {len(keys)} with {version}")
        try:
            run = asyncio.run(run_text(config, suites, silence=silence, version=version))
        except ModelNotFoundError as exc:
            raise ConsoleError(str(exc)) from exc
        passed[version] = dict(zip(keys, run.results, strict=True))
        say(f"conversations: {run.passed}/{len(keys)} passed with {version}")
    results = []
    for name, group in sets.items():
        own = [(s.path, i) for s in group for i in range(len(s.conversations))]
        before = [passed[production][k] for k in own]
        after = [passed[candidate][k] for k in own]
        flipped = [
            {
                "conversation": b.conversation.name,
                "source": b.conversation.source,
                "better": a.passed,
                "check": (a.failure or b.failure).check,
                "message": (a.failure or b.failure).message,
            }
            for b, a in zip(before, after, strict=True)
            if b.passed != a.passed
        ]
        results.append(
            ConversationSetResult(
                name, len(own), sum(r.passed for r in before), sum(r.passed for r in after), flipped
            )
        )
    return results


def _with_models_dir(config: Config, models_dir: Path) -> Config:
    """The config with the console's models folder (the versions compared live there)."""
    paths = {**config.section("paths"), "models_dir": str(models_dir)}
    return Config(path=config.path, raw={**config.raw, "paths": paths})


def _silence(config: Config) -> Any:
    """What a call does after the caller's silences (telephony.silence), as `callbot test conversations`."""
    from bot.conversations.runner import SilencePolicy
    from callbot.events import BotAction
    from telephony.settings import read_telephony_settings

    phone = read_telephony_settings(config)
    return SilencePolicy(
        phone.silence.max_reprompts,
        phone.silence.handoff_text if phone.agent_number else phone.silence.goodbye_text,
        BotAction.HANDOFF if phone.agent_number else BotAction.HANGUP,
    )
