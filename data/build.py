"""`callbot data build`: sources -> cleaned, masked, labelled, split, augmented examples -> Rasa projects.

Everything is written into a temporary folder beside the output and swapped in at the end, so a failed
build leaves the previous output intact.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from data.clean import dedupe_key, for_training
from data.label import IntentMatcher
from data.output import write_outputs
from data.overlap import find_overlaps, is_out_of_scope
from data.overlap import summary as overlap_summary
from data.pii import mask_pii
from data.report import BuildReport
from data.settings import DataSettings
from data.sources import SourceData, Utterance, add_operator_labels, load_sources

if TYPE_CHECKING:
    from data.augment.analysis import Analyzer

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
GENERATED_KINDS = ("casual", "clipped", "asr")  # share max_generated_per_real
LEARNED_KIND = "asr_learned"  # capped on its own (augment.asr_learned_per_real)


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    domain: str
    kind: str  # real, casual, clipped, asr
    source: str  # file:row of the real example (generated ones keep their parent's)
    split: str  # train or test


def build(
    settings: DataSettings, progress: Progress | None = None, operator_labels: list[dict] | None = None
) -> BuildReport:
    """Run the whole build and write it atomically to `settings.build_dir`. `operator_labels`: the
    console's labels of live turns (`console.labels.current_labels`), a source with provenance `operator`."""
    started = time.perf_counter()
    step = progress or (lambda stage, done, total: None)
    step("read", 0, 1)
    sources = load_sources(settings)
    if operator_labels:
        add_operator_labels(operator_labels, settings, sources)
    step("read", 1, 1)

    pii: Counter[str] = Counter()
    cleaned = _clean(sources, settings, pii, step)
    labelled, review = _label(cleaned, sources, settings, step)
    real = _dedupe(labelled, sources)
    examples = _split(real, settings)
    analyzer = _analyzer(settings, examples)
    examples += _augment(examples, settings, step, analyzer)
    overlaps = find_overlaps(examples, analyzer) if analyzer is not None else []

    report = BuildReport.collect(settings, sources, examples, review, pii)
    report.out_of_scope_overlap = overlap_summary(overlaps)
    step("write", 0, 1)
    write_outputs(settings, examples, review, sources, report, [o.row() for o in overlaps])
    step("write", 1, 1)
    report.seconds = round(time.perf_counter() - started, 2)
    report.save(settings.build_dir / "report.json")
    logger.info(
        "data.build.done examples=%d review=%d seconds=%.1f", len(examples), len(review), report.seconds
    )
    return report


def _clean(sources: SourceData, settings: DataSettings, pii: Counter[str], step: Progress) -> list[Utterance]:
    out = []
    total = len(sources.utterances)
    for i, u in enumerate(sources.utterances):
        text, counts = mask_pii(u.text)
        pii.update(counts)
        text = for_training(text)
        if len(text) < settings.min_chars:
            sources.drop(
                "too_short", u.source, f"{u.source}: shorter than data.min_chars={settings.min_chars}"
            )
            continue
        if len(text) > settings.max_chars:
            sources.drop("too_long", u.source, f"{u.source}: {len(text)} characters > data.max_chars")
            continue
        u.text = text
        out.append(u)
        if i % 5000 == 0:
            step("clean", i, total)
    step("clean", total, total)
    return out


def _label(
    utterances: list[Utterance], sources: SourceData, settings: DataSettings, step: Progress
) -> tuple[list[Utterance], list[dict]]:
    """Give unlabelled chat turns the intent of the most similar labelled utterance; the rest go to review."""
    labelled = [u for u in utterances if u.intent]
    unlabelled = [u for u in utterances if not u.intent]
    review: list[dict] = []
    if not unlabelled:
        return labelled, review
    step("label", 0, len(unlabelled))
    if not labelled:
        matches = [None] * len(unlabelled)
    else:
        reference = {u.text: u for u in labelled if u.origin == "qna"} or {u.text: u for u in labelled}
        matcher = IntentMatcher(
            list(reference), [u.intent for u in reference.values()], [u.domain for u in reference.values()]
        )
        matches = matcher.match([u.text for u in unlabelled], settings.label_threshold)
    for u, m in zip(unlabelled, matches, strict=True):
        if m is not None and m.intent:
            u.intent, u.domain = m.intent, m.domain
            u.origin = "chat-auto"
            labelled.append(u)
        else:
            review.append(
                {
                    "conversation_id": u.conversation,
                    "turn": u.turn,
                    "speaker": "customer",
                    "text": u.text,
                    "intent": "",
                    "domain": "",
                    "suggested_intent": m.best_intent if m else "",
                    "similarity": m.score if m else 0.0,
                    "source": u.source,
                }
            )
    step("label", len(unlabelled), len(unlabelled))
    return labelled, review


def _dedupe(utterances: list[Utterance], sources: SourceData) -> list[Utterance]:
    """One example per text; the same text under two intents keeps the first label and records a conflict."""
    seen: dict[str, Utterance] = {}
    for u in utterances:
        key = dedupe_key(u.text)
        first = seen.get(key)
        if first is None:
            seen[key] = u
        elif first.intent == u.intent:
            sources.dropped["duplicate"] += 1
        else:
            sources.drop(
                "label_conflict",
                u.source,
                f"{u.source}: '{u.text}' is '{u.intent}' here but '{first.intent}' at {first.source}",
            )
    return list(seen.values())


def _split(real: list[Utterance], settings: DataSettings) -> list[Example]:
    """Hold out `test_share` of each intent's real examples, chosen by a stable hash of the text."""
    by_intent: dict[str, list[Utterance]] = defaultdict(list)
    for u in real:
        by_intent[u.intent].append(u)
    out: list[Example] = []
    for intent, items in sorted(by_intent.items()):
        items.sort(key=lambda u: _hash(settings.seed, u.text))
        n_test = int(len(items) * settings.test_share) if len(items) >= 4 else 0
        for i, u in enumerate(items):
            split = "test" if i < n_test else "train"
            out.append(Example(u.text, intent, u.domain, "real", u.source, split))
    return out


def _analyzer(settings: DataSettings, examples: list[Example]) -> Analyzer | None:
    """One Kiwi analyzer for the casual/clipped variants and the out-of-scope overlap check, loaded only
    when one of them has work."""
    aug = settings.augment
    generates = (aug.casual or aug.clipped) and aug.max_generated_per_real > 0
    if not generates and not any(is_out_of_scope(e.intent) for e in examples):
        return None
    from data.augment.analysis import Analyzer

    return Analyzer()


def _augment(
    examples: list[Example], settings: DataSettings, step: Progress, analyzer: Analyzer | None = None
) -> list[Example]:
    """Casual, clipped and recognizer-style variants, capped per intent and split."""
    aug = settings.augment
    learned = aug.asr_errors is not None and aug.asr_learned_per_real > 0
    if not ((aug.casual or aug.clipped or aug.asr) and aug.max_generated_per_real > 0) and not learned:
        return []
    from data.augment import Augmenter
    from data.augment.asr_errors import ErrorModel

    errors = ErrorModel.load(aug.asr_errors) if learned and aug.asr_errors is not None else None
    augmenter = Augmenter(
        casual=aug.casual,
        clipped=aug.clipped,
        asr=aug.asr,
        seed=settings.seed,
        errors=errors,
        analyzer=analyzer,
    )
    augmenter.warm(e.text for e in examples)  # batch morphological analysis on all cores
    taken = {dedupe_key(e.text) for e in examples}
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for e in examples:
        groups[(e.intent, e.split)].append(e)
    out: list[Example] = []
    done = 0
    for (_intent, split_name), parents in sorted(groups.items()):
        cap = int(len(parents) * aug.max_generated_per_real)
        # Round-robin over kinds and parents so the cap keeps a mix, not just the first rows' variants.
        queues: dict[str, deque[Example]] = {k: deque() for k in (*GENERATED_KINDS, LEARNED_KIND)}
        for parent in parents:
            for v in augmenter.variants(parent.text):
                # Recognition errors are the phone line's, whatever the intent; fragments are not.
                if v.kind not in ("casual", LEARNED_KIND) and parent.intent in aug.casual_only_intents:
                    continue
                text = for_training(v.text)
                key = dedupe_key(text)
                if not text or key in taken:
                    continue
                taken.add(key)
                queues[v.kind].append(
                    Example(text, parent.intent, parent.domain, v.kind, parent.source, parent.split)
                )
            done += 1
            if done % 2000 == 0:
                step("augment", done, len(examples))
        picked = 0
        while picked < cap and any(queues[k] for k in GENERATED_KINDS):
            for kind in GENERATED_KINDS:
                if queues[kind] and picked < cap:
                    out.append(queues[kind].popleft())
                    picked += 1
        if split_name == "train":  # held-out rows stay clean: thresholds are calibrated on them
            out.extend(list(queues[LEARNED_KIND])[: int(len(parents) * aug.asr_learned_per_real)])
    step("augment", len(examples), len(examples))
    return out


def _hash(seed: int, text: str) -> str:
    return hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=8).hexdigest()
