"""Word frequencies of a Vosk model's own language model: the unigram of an OpenFst `ngram` Gr.fst.

The domain LM keeps a small share of probability for words outside the bot's text. Spreading it evenly
over the whole 503k-word vocabulary makes every such word almost impossible (~1e-7) while still putting
half a million arcs on the graph's unigram state, which each recognizer must expand as it decodes.
`general_distribution` gives that share to the base model's most frequent words instead, in proportion
to their frequency in the base model.

The compact `ngram` FST (OpenFst's NGramFst, as Vosk's small models ship it) stores, after the header and
symbol tables: the counts num_states, num_futures, num_final (uint64); three bit vectors in 64-bit words
(context: 2*num_states+1 bits, future: num_futures+num_states+1 bits, final: num_states bits); then
context words (num_states+1) and future words (num_futures) as int32, and backoff (num_states+1), final
(num_final) and future (num_futures) costs as float32. The future bit vector is a unary code in
breadth-first state order: a 0 opens each state, a 1 stands for each of its futures. State 0 is the empty
history, so the first run of 1s are the unigram words, the first num-unigram future words and costs.
"""

from __future__ import annotations

import logging
import mmap
import struct
from pathlib import Path

import numpy as np

from stt.lm.errors import LmError
from stt.lm.vocab import Vocabulary, header_end

logger = logging.getLogger(__name__)

NGRAM_TYPE = "ngram"


def read_unigram(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """(word ids, probabilities) of the unigram state of the `ngram`-type FST at `path`.

    Raises LmError naming the file when it is another FST type or its data does not fit the layout.
    """
    p = Path(path)
    try:
        with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _read(buf, p)
    except ValueError as exc:  # mmap of an empty file
        raise LmError(f"{p}: empty file, not an OpenFst FST") from exc
    except OSError as exc:
        raise LmError(f"cannot read FST file {p}: {exc.strerror}") from exc


def _words64(bits: int) -> int:
    return (bits + 63) // 64


def _read(buf: mmap.mmap, path: Path) -> tuple[np.ndarray, np.ndarray]:
    fst_type, offset = header_end(buf, path)
    if fst_type != NGRAM_TYPE:
        raise LmError(f"{path}: a {fst_type!r} FST, not {NGRAM_TYPE!r}: its word frequencies cannot be read")
    if offset + 24 > len(buf):
        raise LmError(f"{path}: file ends before the n-gram counts (byte {offset})")
    states, futures, finals = struct.unpack_from("<QQQ", buf, offset)
    future_bits = futures + states + 1
    at = offset + 24 + 8 * (_words64(2 * states + 1))
    future_at = at
    at += 8 * _words64(future_bits) + 8 * _words64(states)
    words_at = at + 4 * (states + 1)
    costs_at = words_at + 4 * futures + 4 * (states + 1) + 4 * finals
    end = costs_at + 4 * futures
    if states == 0 or end > len(buf) or len(buf) - end > 8:
        raise LmError(
            f"{path}: n-gram data of {len(buf) - offset} bytes does not fit {states} states and "
            f"{futures} futures (expected {end - offset})"
        )
    unigrams = _first_run_of_ones(buf, future_at, future_bits, path)
    ids = np.frombuffer(buf, "<i4", unigrams, words_at).astype(np.int64)
    costs = np.frombuffer(buf, "<f4", unigrams, costs_at).astype(np.float64)
    return ids, np.exp(-costs)


def _first_run_of_ones(buf: mmap.mmap, at: int, bits: int, path: Path) -> int:
    """Length of the run of 1 bits after the leading 0 of the future bit vector (bit i: word i//64, LSB first)."""
    count = 0
    step = 1 << 16  # bits per read
    for start in range(0, bits, step):
        n = min(step, bits - start)
        words = np.frombuffer(buf, "<u8", _words64(n), at + start // 8)
        flags = np.unpackbits(words.view(np.uint8), bitorder="little")[:n]
        if start == 0:
            if flags[0] != 0:
                raise LmError(f"{path}: the n-gram future bit vector does not start with a state mark")
            flags = flags[1:]
        zeros = np.flatnonzero(flags == 0)
        if zeros.size:
            return count + int(zeros[0])
        count += flags.size
    raise LmError(f"{path}: the n-gram future bit vector has no second state mark")


def general_distribution(vocab: Vocabulary, graph: Path, top_words: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, probabilities summing to 1) over which the domain LM spreads its general share.

    `top_words` > 0: the base model's most frequent spoken words (letters and digits only), weighted by
    their base unigram probability; when `graph` is not an `ngram` FST, a warning and the uniform whole
    vocabulary. 0: the uniform whole vocabulary.
    """
    spoken = vocab.general_ids()
    uniform = (spoken, np.full(len(spoken), 1.0 / max(len(spoken), 1)))
    if top_words <= 0:
        return uniform
    try:
        ids, probs = read_unigram(graph)
    except LmError as exc:
        logger.warning("stt.lm.general.uniform reason=%s", exc)
        return uniform
    keep = np.isin(ids, spoken) & np.array([vocab.words.get(int(i), "").isalnum() for i in ids])
    ids, probs = ids[keep], probs[keep]
    top = np.argsort(-probs, kind="stable")[:top_words]
    ids, probs = ids[top], probs[top]
    order = np.argsort(ids)
    return ids[order], probs[order] / probs.sum()
