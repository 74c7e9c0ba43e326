"""Witten-Bell n-gram estimation over word ids, and its backoff acceptor for a Vosk graph.

Interpolated Witten-Bell: for a history h seen c(h) times with T(h) distinct next words,
    P(w | h) = (c(h, w) + T(h) * P(w | h')) / (c(h) + T(h)),    h' = h without its oldest word,
which in backoff form is: explicit probabilities for the words seen after h, and for every other word
alpha(h) * P(w | h') with alpha(h) = T(h) / (c(h) + T(h)) - exactly normalized, since the interpolated
mass of the unseen words is alpha(h) times their lower-order mass. The lowest level is a unigram that mixes
the domain counts with a share `general_weight` for general words (by default the base model's most
frequent words, in proportion to their frequency: `stt.lm.unigram`), so speech outside the domain text
still has a path.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from stt.lm.errors import LmError
from stt.lm.fstio import ARC_DTYPE, AcceptorFst

logger = logging.getLogger(__name__)

History = tuple[int, ...]


@dataclass(frozen=True)
class NgramModel:
    """A backoff n-gram model over integer word ids (`</s>` is predicted, `<s>` only starts histories)."""

    order: int
    bos: int
    eos: int
    unigram: np.ndarray  # P(w) for every id (dense, float64); sums to 1
    probs: dict[History, dict[int, float]]  # explicit P(w | h) for the words seen after h
    backoff: dict[History, float]  # alpha(h)

    def prob(self, word: int, history: Sequence[int]) -> float:
        """P(word | history), following backoff from the longest known history."""
        h = tuple(history)[max(0, len(history) - (self.order - 1)) :] if self.order > 1 else ()
        scale = 1.0
        while h:
            explicit = self.probs.get(h)
            if explicit is not None:
                p = explicit.get(word)
                if p is not None:
                    return scale * p
                scale *= self.backoff[h]
            h = h[1:]
        return scale * float(self.unigram[word])


def estimate_witten_bell(
    sentences: Iterable[Sequence[int]],
    *,
    bos: int,
    eos: int,
    general_ids: np.ndarray,
    general_weight: float,
    general_probs: np.ndarray | None = None,
    order: int = 3,
) -> NgramModel:
    """Estimate an interpolated Witten-Bell model of `order` from sentences of word ids (no <s>/</s>).

    `general_ids` are the vocabulary words that share `general_weight` of the unigram: in proportion to
    `general_probs` (same length, summing to 1) when given, else evenly.
    """
    if order < 1:
        raise LmError(f"n-gram order must be >= 1, got {order}")
    if not 0.0 <= general_weight < 1.0:
        raise LmError(f"general_weight must be in [0, 1), got {general_weight}")
    if general_weight > 0 and len(general_ids) == 0:
        raise LmError("general_weight > 0 needs a non-empty general vocabulary")
    if general_probs is not None and len(general_probs) != len(general_ids):
        raise LmError(f"{len(general_probs)} general word probabilities for {len(general_ids)} words")
    unigram_counts: Counter[int] = Counter()
    context: dict[History, Counter[int]] = defaultdict(Counter)
    for sentence in sentences:
        seq = [bos, *sentence, eos]
        for i in range(1, len(seq)):
            w = seq[i]
            unigram_counts[w] += 1
            for n in range(2, min(order, i + 1) + 1):
                context[tuple(seq[i - n + 1 : i])][w] += 1
    if not unigram_counts:
        raise LmError("no training sentences: the domain language model needs at least one sentence")

    size = int(max(max(unigram_counts), int(general_ids.max(initial=0)), bos, eos)) + 1
    unigram = np.zeros(size, dtype=np.float64)
    total = sum(unigram_counts.values())
    for w, c in unigram_counts.items():
        unigram[w] = (1.0 - general_weight) * c / total
    if general_weight > 0:
        share = general_probs if general_probs is not None else 1.0 / len(general_ids)
        unigram[general_ids] += general_weight * share

    model = NgramModel(order=order, bos=bos, eos=eos, unigram=unigram, probs={}, backoff={})
    # Lower orders first: the interpolation term of an n-gram is the finished (n-1)-gram probability.
    for h in sorted(context, key=len):
        counts = context[h]
        c = sum(counts.values())
        t = len(counts)
        lower = h[1:]
        model.probs[h] = {w: (cw + t * model.prob(w, lower)) / (c + t) for w, cw in counts.items()}
        model.backoff[h] = t / (c + t)
    logger.debug("stt.lm.ngram.estimated order=%d histories=%d tokens=%d", order, len(context), total)
    return model


def build_fst(model: NgramModel, exclude: Iterable[int] = ()) -> AcceptorFst:
    """The model as a backoff acceptor for Vosk's `graph/Gr.fst`.

    States are histories; the start state is the `<s>` history; arcs carry -ln P(w | h) and go to the
    longest known history ending in w; epsilon arcs carry -ln alpha(h) to the shorter history; the final
    weight is -ln P(</s> | h). Arcs are sorted by label. `exclude` ids never get a unigram arc.
    """
    histories: list[History] = [()]
    if model.order > 1:
        start_history: History = (model.bos,)
        if start_history not in model.probs:
            raise LmError("the model has no <s> history; was it estimated from sentences?")
        histories.append(start_history)
        histories.extend(sorted((h for h in model.probs if h != start_history), key=lambda h: (len(h), h)))
    index = {h: i for i, h in enumerate(histories)}
    start = index[(model.bos,)] if model.order > 1 else 0

    def target(h: History, w: int) -> int:
        nxt = (h + (w,))[max(0, len(h) + 1 - (model.order - 1)) :] if model.order > 1 else ()
        while nxt and nxt not in index:
            nxt = nxt[1:]
        return index[nxt]

    finals = np.full(len(histories), np.inf, dtype=np.float32)
    arcs: list[np.ndarray] = []
    arcs.append(_unigram_arcs(model, index, set(exclude)))
    finals[0] = _cost(model.unigram[model.eos])
    for h in histories[1:]:
        explicit = model.probs[h]
        words = sorted(w for w in explicit if w != model.eos)
        state_arcs = np.zeros(len(words) + 1, dtype=ARC_DTYPE)
        state_arcs[0] = (0, 0, _cost(model.backoff[h]), index[_known_suffix(h[1:], index)])
        for k, w in enumerate(words, start=1):
            state_arcs[k] = (w, w, _cost(explicit[w]), target(h, w))
        arcs.append(state_arcs)
        if model.eos in explicit:
            finals[index[h]] = _cost(explicit[model.eos])
    return AcceptorFst(start=start, finals=finals, arcs=arcs)


def _unigram_arcs(model: NgramModel, index: dict[History, int], exclude: set[int]) -> np.ndarray:
    mask = model.unigram > 0
    mask[[model.eos, model.bos, 0, *exclude]] = False
    words = np.flatnonzero(mask)
    out = np.zeros(len(words), dtype=ARC_DTYPE)
    out["ilabel"] = words
    out["olabel"] = words
    out["weight"] = -np.log(model.unigram[words])
    out["nextstate"] = 0
    if model.order > 1:
        for h, state in index.items():
            if len(h) == 1 and h[0] != model.bos:
                pos = np.searchsorted(words, h[0])
                if pos < len(words) and words[pos] == h[0]:
                    out["nextstate"][pos] = state
    return out


def _known_suffix(h: History, index: dict[History, int]) -> History:
    while h and h not in index:
        h = h[1:]
    return h


def _cost(p: float) -> float:
    return math.inf if p <= 0 else -math.log(p)
