"""Router + domain parsing over a loaded model set: the NLU half of a turn, shared by eval and training.

Loads every Rasa Agent of a `ModelSet` once; `parse(text)` routes the text, parses it with the chosen
domain's model and applies `decide`. Agent loading and parsing are CPU-bound; callers in an event loop
that must stay responsive run `NluModels.load` in a thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.models import ROUTER, ModelSet
from bot.nlu.decision import Decision, Thresholds, decide

logger = logging.getLogger(__name__)

BATCH_SIZE = 256  # texts per graph run in parse_many


class ModelLoadError(Exception):
    """A trained model archive could not be loaded."""


@dataclass(frozen=True)
class ParseResult:
    """One text's full NLU result: the raw parses of both layers and the decision."""

    text: str
    router: Mapping[str, Any]
    domain: Mapping[str, Any] | None
    decision: Decision


class NluModels:
    """The router Agent and one Agent per domain, loaded once and used for many texts."""

    def __init__(self, router: Any, domains: Mapping[str, Any], thresholds: Thresholds) -> None:
        self.router = router
        self.domains = dict(domains)
        self.thresholds = thresholds

    @classmethod
    def load(cls, model_set: ModelSet, default_thresholds: Thresholds | None = None) -> NluModels:
        """Load all agents of a model set; thresholds come from its manifest."""
        thresholds = Thresholds.from_manifest(model_set.thresholds, default_thresholds)
        return cls.load_paths(model_set.paths, thresholds)

    @classmethod
    def load_paths(cls, paths: Mapping[str, Path], thresholds: Thresholds) -> NluModels:
        router = load_agent(paths[ROUTER])
        domains = {name: load_agent(p) for name, p in paths.items() if name != ROUTER}
        return cls(router, domains, thresholds)

    async def parse(self, text: str, thresholds: Thresholds | None = None) -> ParseResult:
        """Route `text`, parse it with the routed domain's model, and decide."""
        router_parse = await self.router.parse_message(text)
        name = (router_parse.get("intent") or {}).get("name")
        agent = self.domains.get(name) if name else None
        domain_parse = await agent.parse_message(text) if agent is not None else None
        decision = decide(router_parse, domain_parse, thresholds or self.thresholds)
        return ParseResult(text, router_parse, domain_parse, decision)

    async def parse_many(
        self, texts: list[str], thresholds: Thresholds | None = None, batch_size: int = BATCH_SIZE
    ) -> list[ParseResult]:
        """`parse` of each text, with each model's graph run once per batch of texts instead of once per
        text (evaluation and calibration parse thousands): the same parses, a fraction of the overhead."""
        out: list[ParseResult] = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            routed = parse_batch(self.router, chunk)
            by_domain: dict[str, list[int]] = defaultdict(list)
            for i, router_parse in enumerate(routed):
                name = (router_parse.get("intent") or {}).get("name")
                if name in self.domains:
                    by_domain[name].append(i)
            parsed: list[Mapping[str, Any] | None] = [None] * len(chunk)
            for name, indices in by_domain.items():
                for i, domain_parse in zip(
                    indices, parse_batch(self.domains[name], [chunk[i] for i in indices]), strict=True
                ):
                    parsed[i] = domain_parse
            out.extend(
                ParseResult(text, r, d, decide(r, d, thresholds or self.thresholds))
                for text, r, d in zip(chunk, routed, parsed, strict=True)
            )
        return out


def parse_batch(agent: Any, texts: list[str]) -> list[dict[str, Any]]:
    """What `agent.parse_message(text)` returns for each text, from one run of the model's graph.

    Every NLU component of the pipeline (Rasa's and callbot's) handles each message of a batch on its
    own, so a text's parse does not depend on the others in its batch."""
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT

    if not texts:
        return []
    processor = agent.processor
    messages = [UserMessage(text) for text in texts]
    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={
            PLACEHOLDER_MESSAGE: messages,
            PLACEHOLDER_TRACKER: DialogueStateTracker.from_events(messages[0].sender_id, []),
        },
        targets=[target],
    )
    out = []
    for message in results[target]:
        parse = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
        parse.update(message.as_dict(only_output_properties=True))
        out.append(parse)
    return out


def load_agent(path: Path, **kwargs: Any) -> Any:
    """A trained Rasa model loaded as an Agent (`kwargs` go to `Agent.load`); ModelLoadError names the file."""
    from rasa.core.agent import Agent

    from bot.nlu import rasa_speedups

    rasa_speedups.install()
    try:
        agent = Agent.load(str(path), **kwargs)
    except Exception as exc:  # Rasa raises many kinds here; name the file for the operator
        raise ModelLoadError(
            f"{path}: cannot load the Rasa model ({exc}); retrain with `callbot train`"
        ) from exc
    if not agent.is_ready():
        raise ModelLoadError(f"{path}: the Rasa model did not load; retrain with `callbot train`")
    logger.debug("bot.nlu.loaded model=%s", path.name)
    return agent
