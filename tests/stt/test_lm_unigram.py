"""Word frequencies from a Vosk model's `ngram` Gr.fst: the real bundled model and small hand-made files."""

from __future__ import annotations

import logging
import math
import struct

import numpy as np
import pytest

from stt.lm.errors import LmError
from stt.lm.fstio import ARC_DTYPE, AcceptorFst, write_vector_fst
from stt.lm.model_path import find_bundled_model
from stt.lm.unigram import general_distribution, read_unigram
from stt.lm.vocab import FST_MAGIC, read_vocabulary

GRAPH = find_bundled_model() / "graph" / "Gr.fst"


@pytest.fixture(scope="module")
def vocab():
    return read_vocabulary(GRAPH)


@pytest.fixture(scope="module")
def unigram():
    return read_unigram(GRAPH)


def _string(text: str) -> bytes:
    return struct.pack("<i", len(text)) + text.encode()


def _ngram_file(path, unigrams: dict[int, float], truncate: int = 0) -> None:
    """A two-state NGramFst with no symbol tables: the root's futures `unigrams`, state 1 one future."""
    header = (
        struct.pack("<i", FST_MAGIC)
        + _string("ngram")
        + _string("standard")
        + struct.pack("<iiqqqq", 4, 0, 0, 0, 2, 0)
    )
    states, futures, finals = 2, len(unigrams) + 1, 0
    bits = [0] + [1] * len(unigrams) + [0, 1, 0]  # a 0 opens each state, a 1 per future
    word = sum(1 << i for i, b in enumerate(bits) if b)
    data = struct.pack("<QQQ", states, futures, finals)
    data += struct.pack("<Q", 0b10110)  # context bits (not read)
    data += struct.pack("<Q", word)  # future bits
    data += struct.pack("<Q", 0)  # final bits
    data += struct.pack("<3i", -1, 0, 1)  # context words
    data += struct.pack(f"<{futures}i", *unigrams, 99)  # future words
    data += struct.pack("<3f", math.inf, 0.5, 0.5)  # backoff
    data += struct.pack(f"<{futures}f", *(-math.log(p) for p in unigrams.values()), 0.0)
    blob = header + data
    path.write_bytes(blob[: len(blob) - truncate] if truncate else blob)


def test_bundled_unigram_is_a_distribution_of_common_words(vocab, unigram):
    ids, probs = unigram
    assert len(ids) == len(probs) == 503_346
    assert np.all(np.diff(ids) > 0)
    assert 0.99 < probs.sum() <= 1.0  # the rest is the sentence end
    top = [vocab.word(int(i)) for i in ids[np.argsort(-probs)[:10]]]
    assert {"의", "에", "이", "는"} <= set(top)
    assert probs[np.searchsorted(ids, vocab.id("예약"))] > probs[np.searchsorted(ids, vocab.id("디저트"))]


def test_general_distribution_keeps_the_most_frequent_spoken_words(vocab):
    ids, probs = general_distribution(vocab, GRAPH, 20_000)
    assert len(ids) == 20_000 and probs.sum() == pytest.approx(1.0)
    assert np.all(np.diff(ids) > 0)
    words = {vocab.word(int(i)) for i in ids}
    assert {"예약", "주차", "메뉴", "의"} <= words
    assert all(w.isalnum() for w in words)  # no "[1]", "<s>" or disambiguation symbols
    share = dict(zip(ids.tolist(), probs.tolist(), strict=True))
    assert share[vocab.id("의")] > share[vocab.id("예약")] > 1.0 / 20_000 / 10


def test_zero_words_means_the_whole_vocabulary_evenly(vocab):
    ids, probs = general_distribution(vocab, GRAPH, 0)
    assert np.array_equal(ids, vocab.general_ids())
    assert np.allclose(probs, 1.0 / len(ids))


def test_hand_made_ngram_file(tmp_path):
    path = tmp_path / "Gr.fst"
    _ngram_file(path, {5: 0.6, 7: 0.4})
    ids, probs = read_unigram(path)
    assert ids.tolist() == [5, 7]
    assert probs == pytest.approx([0.6, 0.4])


def test_truncated_ngram_file_is_named(tmp_path):
    path = tmp_path / "Gr.fst"
    _ngram_file(path, {5: 0.6, 7: 0.4}, truncate=12)
    with pytest.raises(LmError, match=r"Gr\.fst: n-gram data of \d+ bytes does not fit 2 states"):
        read_unigram(path)


def test_another_fst_type_falls_back_to_the_whole_vocabulary(tmp_path, vocab, caplog):
    path = tmp_path / "vector.fst"
    arcs = np.zeros(1, dtype=ARC_DTYPE)
    arcs[0] = (5, 5, 0.0, 0)
    write_vector_fst(AcceptorFst(start=0, finals=np.zeros(1, dtype=np.float32), arcs=[arcs]), path)
    with pytest.raises(LmError, match="a 'vector' FST, not 'ngram'"):
        read_unigram(path)
    with caplog.at_level(logging.WARNING, logger="stt.lm.unigram"):
        ids, _ = general_distribution(vocab, path, 20_000)
    assert len(ids) == len(vocab.general_ids())
    assert "stt.lm.general.uniform" in caplog.text


def test_not_an_fst(tmp_path):
    path = tmp_path / "Gr.fst"
    path.write_bytes(b"not an fst at all")
    with pytest.raises(LmError, match="not an OpenFst binary FST"):
        read_unigram(path)
    path.write_bytes(b"")
    with pytest.raises(LmError, match="empty file"):
        read_unigram(path)
