"""Writing an OpenFst VectorFst (standard arcs, tropical float weights) without symbol tables.

Vosk 0.3.45 loads a `graph/Gr.fst` written this way (with `graph/words.txt` beside it); a file with an
embedded symbol table written by pynini fails to load there. The format (little-endian): the FST header
(magic, "vector", "standard", version 2, flags 0, properties, start, #states, and an
arc count OpenFst leaves 0 for this type), then per state its
final weight (float32), its arc count (int64) and its arcs (ilabel int32, olabel int32, weight float32,
nextstate int32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stt.lm.errors import LmError
from stt.lm.vocab import FST_MAGIC

ARC_DTYPE = np.dtype([("ilabel", "<i4"), ("olabel", "<i4"), ("weight", "<f4"), ("nextstate", "<i4")])
_VECTOR_VERSION = 2
# OpenFst property bits this writer guarantees; the others are left "unknown" for OpenFst to compute.
_ACCEPTOR = 0x10000
_ILABEL_SORTED = 0x10000000
_OLABEL_SORTED = 0x40000000


@dataclass(frozen=True)
class AcceptorFst:
    """An acceptor: per state, arcs sorted by label (ARC_DTYPE rows) and a final cost (inf: not final)."""

    start: int
    finals: np.ndarray
    arcs: list[np.ndarray]

    @property
    def num_states(self) -> int:
        return len(self.arcs)

    @property
    def num_arcs(self) -> int:
        return sum(len(a) for a in self.arcs)


def _string(s: str) -> bytes:
    data = s.encode("ascii")
    return struct.pack("<i", len(data)) + data


def write_vector_fst(fst: AcceptorFst, path: Path | str) -> int:
    """Write `fst` as a VectorFst binary with no symbol tables; returns the file size in bytes."""
    _check(fst)
    header = (
        struct.pack("<i", FST_MAGIC)
        + _string("vector")
        + _string("standard")
        + struct.pack("<ii", _VECTOR_VERSION, 0)
        + struct.pack("<Q", _ACCEPTOR | _ILABEL_SORTED | _OLABEL_SORTED)
        # like OpenFst's own VectorFst writer: the arc count is left 0 in the header
        + struct.pack("<qqq", fst.start, fst.num_states, 0)
    )
    p = Path(path)
    try:
        with p.open("wb") as f:
            f.write(header)
            for final, state_arcs in zip(fst.finals, fst.arcs, strict=True):
                f.write(struct.pack("<fq", float(final), len(state_arcs)))
                f.write(np.ascontiguousarray(state_arcs, dtype=ARC_DTYPE).tobytes())
    except OSError as exc:
        raise LmError(f"cannot write FST {p}: {exc.strerror}") from exc
    return p.stat().st_size


def _check(fst: AcceptorFst) -> None:
    if len(fst.finals) != fst.num_states:
        raise LmError(f"FST has {fst.num_states} states but {len(fst.finals)} final weights")
    if not 0 <= fst.start < fst.num_states:
        raise LmError(f"FST start state {fst.start} is not one of its {fst.num_states} states")
    for s, a in enumerate(fst.arcs):
        if np.any(a["ilabel"] != a["olabel"]):
            raise LmError(f"FST state {s} has an arc that is not an acceptor arc")
        if np.any(np.diff(a["ilabel"]) < 0):
            raise LmError(f"FST state {s} has arcs not sorted by label")
        if len(a) and (a["nextstate"].min() < 0 or a["nextstate"].max() >= fst.num_states):
            raise LmError(f"FST state {s} has an arc to a state that does not exist")
