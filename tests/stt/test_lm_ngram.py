"""Witten-Bell estimation (normalization by brute force on a toy vocabulary) and the backoff acceptor."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from stt.lm.errors import LmError
from stt.lm.fstio import ARC_DTYPE, AcceptorFst, write_vector_fst
from stt.lm.ngram import build_fst, estimate_witten_bell

BOS = EOS = 9  # like the Vosk graph: <s> and </s> share one id
GENERAL = np.array([1, 2, 3, 4, 5, 6])
CORPUS = [[1, 2, 3], [1, 2, 4], [2, 3], [3, 3, 1, 2], [5]]


def _model(order=3, weight=0.1, corpus=CORPUS):
    return estimate_witten_bell(
        corpus, bos=BOS, eos=EOS, general_ids=GENERAL, general_weight=weight, order=order
    )


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("weight", [0.0, 0.05, 0.5])
def test_probabilities_sum_to_one_for_every_history(order, weight):
    model = _model(order, weight)
    outcomes = [*GENERAL.tolist(), EOS]
    histories = [h for n in range(order) for h in itertools.product([BOS, 1, 2, 3, 6], repeat=n)]
    for h in histories:
        total = sum(model.prob(w, h) for w in outcomes)
        assert total == pytest.approx(1.0, abs=1e-9), h


def test_witten_bell_values_by_hand():
    model = _model(order=3, weight=0.1)
    # unigram: 18 tokens (13 words + 5 </s>); word 2 seen 4 times; 6 general words
    p1 = 0.9 * 4 / 18 + 0.1 / 6
    assert model.prob(2, ()) == pytest.approx(p1)
    # history (1,): followed by 2 three times -> c=3, T=1
    p2 = (3 + 1 * p1) / (3 + 1)
    assert model.prob(2, (1,)) == pytest.approx(p2)
    # history (BOS, 1): followed by 2 twice -> c=2, T=1; backs off to (1,)
    assert model.prob(2, (BOS, 1)) == pytest.approx((2 + p2) / 3)
    # unseen after (BOS, 1): alpha(BOS,1) * alpha(1) * P1(6)
    p1_6 = 0.1 / 6
    assert model.prob(6, (BOS, 1)) == pytest.approx((1 / 3) * (1 / 4) * p1_6)


@pytest.mark.parametrize("order", [1, 3])
def test_general_share_follows_the_given_word_probabilities(order):
    probs = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    model = estimate_witten_bell(
        CORPUS, bos=BOS, eos=EOS, general_ids=GENERAL, general_weight=0.1, general_probs=probs, order=order
    )
    assert model.prob(6, ()) == pytest.approx(0.1 * 0.1)  # word 6 is never seen: only its general share
    assert model.prob(1, ()) == pytest.approx(0.9 * 3 / 18 + 0.1 * 0.5)
    outcomes = [*GENERAL.tolist(), EOS]
    for h in [(), (BOS,), (1,), (BOS, 1)][:order]:
        assert sum(model.prob(w, h) for w in outcomes) == pytest.approx(1.0, abs=1e-9)


def test_general_probabilities_must_match_the_words():
    with pytest.raises(LmError, match="2 general word probabilities for 6 words"):
        estimate_witten_bell(
            CORPUS, bos=BOS, eos=EOS, general_ids=GENERAL, general_weight=0.1, general_probs=np.ones(2) / 2
        )


def test_without_general_share_unseen_words_are_impossible():
    model = _model(weight=0.0)
    assert model.prob(6, ()) == 0.0
    fst = build_fst(model)
    assert 6 not in fst.arcs[0]["ilabel"]


def _walk(fst: AcceptorFst, words: list[int]) -> float:
    """Cost of a sentence in the acceptor, taking the word's arc when present, else the backoff arc."""
    state, cost = fst.start, 0.0
    for w in words:
        while True:
            arcs = fst.arcs[state]
            hit = arcs[arcs["ilabel"] == w]
            if len(hit):
                cost += float(hit["weight"][0])
                state = int(hit["nextstate"][0])
                break
            backoff = arcs[arcs["ilabel"] == 0]
            assert len(backoff) == 1, f"state {state} has neither word {w} nor a backoff arc"
            cost += float(backoff["weight"][0])
            state = int(backoff["nextstate"][0])
    while not math.isfinite(float(fst.finals[state])):
        backoff = fst.arcs[state][fst.arcs[state]["ilabel"] == 0]
        cost += float(backoff["weight"][0])
        state = int(backoff["nextstate"][0])
    return cost + float(fst.finals[state])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_fst_scores_sentences_like_the_model(order):
    model = _model(order=order)
    fst = build_fst(model)
    for sentence in [[1, 2, 3], [3, 3, 1, 2, 4], [6, 5], [2], [4, 4, 6, 1]]:
        expected = 0.0
        history = [BOS]
        for w in [*sentence, EOS]:
            expected -= math.log(model.prob(w, history))
            history.append(w)
        assert _walk(fst, sentence) == pytest.approx(expected, rel=1e-5), sentence


def test_fst_shape():
    fst = build_fst(_model(order=3))
    for arcs in fst.arcs:
        assert np.all(np.diff(arcs["ilabel"]) > 0)  # sorted, one arc per label
        assert np.all(arcs["ilabel"] == arcs["olabel"])
        assert BOS not in arcs["ilabel"]  # <s>/</s> is never a word arc: </s> is the final weight
    assert fst.start != 0  # state 0 is the unigram state; the start is the <s> history
    assert np.isfinite(fst.finals[0])


# pynini runs in a child process: importing it before vosk loads a model deadlocks that load (both
# carry OpenFst), and other tests of the session load Vosk models.
_PYNINI_REFERENCE = """
import json, math, sys, pynini
ours_path, theirs_path, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ref = pynini.Fst()
for _ in spec["finals"]:
    ref.add_state()
ref.set_start(spec["start"])
for s, (final, arcs) in enumerate(zip(spec["finals"], spec["arcs"])):
    if final is not None:
        ref.set_final(s, final)
    for i, o, w, n in arcs:
        ref.add_arc(s, pynini.Arc(i, o, w, n))
ref.write(theirs_path)
ours = pynini.Fst.read(ours_path)
wanted = pynini.ACCEPTOR | pynini.I_LABEL_SORTED
print(json.dumps({
    "verify": ours.verify(),
    "symbols": [ours.input_symbols() is not None, ours.output_symbols() is not None],
    "properties": ours.properties(wanted, True) == wanted,
    "equal": pynini.equal(ours, ref),
}))
"""


def test_written_fst_is_what_pynini_writes(tmp_path):
    fst = build_fst(_model(order=3))
    ours, theirs = tmp_path / "ours.fst", tmp_path / "theirs.fst"
    write_vector_fst(fst, ours)
    spec = {
        "start": fst.start,
        "finals": [float(f) if math.isfinite(float(f)) else None for f in fst.finals],
        "arcs": [
            [[int(a["ilabel"]), int(a["olabel"]), float(a["weight"]), int(a["nextstate"])] for a in arcs]
            for arcs in fst.arcs
        ],
    }
    done = subprocess.run(
        [sys.executable, "-c", _PYNINI_REFERENCE, str(ours), str(theirs), json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    checks = json.loads(done.stdout)
    assert checks == {"verify": True, "symbols": [False, False], "properties": True, "equal": True}

    a, b = ours.read_bytes(), theirs.read_bytes()
    props = slice(34, 42)  # the properties field: pynini records more (computed) bits
    assert a[: props.start] == b[: props.start] and a[props.stop :] == b[props.stop :]


def test_writer_rejects_unsorted_arcs(tmp_path):
    arcs = np.array([(3, 3, 0.0, 0), (1, 1, 0.0, 0)], dtype=ARC_DTYPE)
    fst = AcceptorFst(start=0, finals=np.zeros(1, dtype=np.float32), arcs=[arcs])
    with pytest.raises(LmError, match="not sorted"):
        write_vector_fst(fst, tmp_path / "x.fst")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": 0}, "order"),
        ({"general_weight": 1.0}, "general_weight"),
        ({"general_weight": -0.1}, "general_weight"),
    ],
)
def test_bad_parameters(kwargs, message):
    args = {"bos": BOS, "eos": EOS, "general_ids": GENERAL, "general_weight": 0.1, "order": 3} | kwargs
    with pytest.raises(LmError, match=message):
        estimate_witten_bell(CORPUS, **args)


def test_no_sentences_is_an_error():
    with pytest.raises(LmError, match="no training sentences"):
        _model(corpus=[])
