"""The word symbol table of a Vosk graph, read from the header of `graph/Gr.fst`.

A Vosk lookahead model has no `words.txt`: the vocabulary is the symbol table that OpenFst embeds right
after the FST header. The layout (little-endian) is: magic int32, fst type and arc type as
length-prefixed strings, version int32, flags int32 (bit 1: input symbols, bit 2: output symbols),
properties uint64, start/num_states/num_arcs int64; then the table: magic int32, name string,
available key int64, size int64 and `size` pairs of (string, int64 key).
"""

from __future__ import annotations

import logging
import mmap
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from stt.lm.errors import LmError

logger = logging.getLogger(__name__)

FST_MAGIC = 2125659606
SYMBOL_TABLE_MAGIC = 2125658996
_HAS_ISYMBOLS = 1
_HAS_OSYMBOLS = 2
_MAX_STRING = 1 << 16

EPS = "<eps>"
BOS = "<s>"
EOS = "</s>"
# Symbols that are never spoken words: they are left out of the general-vocabulary unigram.
_NOT_WORDS = frozenset({EPS, BOS, EOS, "!SIL", "<UNK>", "<SPOKEN_NOISE>", "<unk>", "[unk]"})


@dataclass(frozen=True)
class Vocabulary:
    """Word <-> id mapping of a decoding graph, in the order of the original table."""

    source: Path
    name: str
    entries: tuple[tuple[str, int], ...] = field(repr=False)
    ids: dict[str, int] = field(repr=False)
    words: dict[int, str] = field(repr=False)
    eps_id: int
    bos_id: int
    eos_id: int

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, word: object) -> bool:
        return word in self.ids

    def id(self, word: str) -> int:
        """The id of `word`; KeyError when it is not in the vocabulary."""
        return self.ids[word]

    def word(self, word_id: int) -> str:
        return self.words[word_id]

    @property
    def max_word_length(self) -> int:
        return max(len(w) for w, _ in self.entries)

    def general_ids(self) -> np.ndarray:
        """Sorted ids of every spoken word: no epsilon, sentence marks, disambiguation or noise symbols."""
        ids = {i for w, i in self.entries if w not in _NOT_WORDS and not w.startswith("#")}
        return np.array(sorted(ids), dtype=np.int64)


class _Reader:
    """Sequential little-endian reads over a buffer, with errors naming the file."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.path = path
        self.offset = 0

    def _unpack(self, fmt: str, size: int, what: str) -> int:
        if self.offset + size > len(self.buf):
            raise LmError(f"{self.path}: file ends inside the FST header ({what} at byte {self.offset})")
        (value,) = struct.unpack_from(fmt, self.buf, self.offset)
        self.offset += size
        return value

    def int32(self, what: str) -> int:
        return self._unpack("<i", 4, what)

    def int64(self, what: str) -> int:
        return self._unpack("<q", 8, what)

    def string(self, what: str) -> bytes:
        n = self.int32(what)
        if n < 0 or n > _MAX_STRING or self.offset + n > len(self.buf):
            raise LmError(f"{self.path}: bad string length {n} for {what} at byte {self.offset - 4}")
        value = bytes(self.buf[self.offset : self.offset + n])
        self.offset += n
        return value


def read_vocabulary(path: Path | str) -> Vocabulary:
    """The symbol table embedded in the OpenFst file `path` (e.g. a Vosk model's `graph/Gr.fst`).

    Parsed once per file version (path, size, mtime) and cached; about 0.4 s for the 503k-word Korean model.
    Raises LmError naming the file when it is not an OpenFst file with an input symbol table.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise LmError(f"cannot read FST file {p}: {exc.strerror}") from exc
    return _read_cached(p, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4)
def _read_cached(path: Path, size: int, mtime_ns: int) -> Vocabulary:
    del size, mtime_ns  # cache key only
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(_Reader(buf, path))
    except ValueError as exc:  # mmap of an empty file
        raise LmError(f"{path}: empty file, not an OpenFst FST") from exc
    except OSError as exc:
        raise LmError(f"cannot read FST file {path}: {exc.strerror}") from exc


def header_end(buf: mmap.mmap | bytes, path: Path) -> tuple[str, int]:
    """(FST type, offset of the FST's own data) of an OpenFst file: past its header and symbol tables."""
    r = _Reader(buf, path)
    header = _header(r)
    for bit in (_HAS_ISYMBOLS, _HAS_OSYMBOLS):
        if header.flags & bit:
            _symbol_table(r)
    return header.fst_type, r.offset


@dataclass(frozen=True)
class FstHeader:
    fst_type: str
    flags: int
    states: int
    arcs: int  # 0 in a VectorFst file (OpenFst does not record it there)


def read_fst_header(path: Path) -> FstHeader:
    """The header of the OpenFst file `path`; LmError naming the file when it is not one."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise LmError(f"cannot read FST file {path}: {exc.strerror}") from exc
    return _header(_Reader(head, Path(path)))


def _header(r: _Reader) -> FstHeader:
    if len(r.buf) < 4 or r.int32("magic") != FST_MAGIC:
        raise LmError(f"{r.path}: not an OpenFst binary FST (wrong magic number)")
    fst_type = r.string("fst type").decode("ascii", "replace")
    r.string("arc type")
    r.int32("version")
    flags = r.int32("flags")
    r.int64("properties")
    r.int64("start")
    states = r.int64("number of states")
    arcs = r.int64("number of arcs")
    return FstHeader(fst_type=fst_type, flags=flags, states=states, arcs=arcs)


def _symbol_table(r: _Reader) -> tuple[str, list[tuple[str, int]]]:
    if r.int32("symbol table magic") != SYMBOL_TABLE_MAGIC:
        raise LmError(f"{r.path}: bad symbol table magic number after the FST header")
    name = r.string("symbol table name").decode("utf-8", "replace")
    r.int64("available key")
    size = r.int64("symbol table size")
    if size <= 0 or size > len(r.buf):
        raise LmError(f"{r.path}: symbol table size {size} is not plausible")
    return name, _parse_entries(r, size)


def _parse(r: _Reader) -> Vocabulary:
    path = r.path
    header = _header(r)
    if not header.flags & _HAS_ISYMBOLS:
        raise LmError(
            f"{path}: the {header.fst_type} FST has no embedded symbol table; the vocabulary cannot be read"
        )
    name, entries = _symbol_table(r)
    ids = {w: i for w, i in entries}
    missing = [s for s in (EPS, BOS, EOS) if s not in ids]
    if missing:
        raise LmError(f"{path}: symbol table has no {', '.join(missing)} symbol")
    words: dict[int, str] = {}
    for w, i in entries:
        words.setdefault(i, w)
    logger.debug("stt.lm.vocab.read path=%s words=%d", path, len(entries))
    return Vocabulary(
        source=path,
        name=name,
        entries=tuple(entries),
        ids=ids,
        words=words,
        eps_id=ids[EPS],
        bos_id=ids[BOS],
        eos_id=ids[EOS],
    )


def _parse_entries(r: _Reader, size: int) -> list[tuple[str, int]]:
    buf, offset, end = r.buf, r.offset, len(r.buf)
    unpack = struct.unpack_from
    entries: list[tuple[str, int]] = []
    try:
        for _ in range(size):
            (n,) = unpack("<i", buf, offset)
            offset += 4
            if n < 0 or n > _MAX_STRING:
                raise LmError(f"{r.path}: bad symbol length {n} at byte {offset - 4}")
            if offset + n + 8 > end:
                raise struct.error("truncated")
            word = buf[offset : offset + n].decode("utf-8")
            (key,) = unpack("<q", buf, offset + n)
            offset += n + 8
            entries.append((word, key))
    except struct.error as exc:
        raise LmError(
            f"{r.path}: file ends inside the symbol table (entry {len(entries)} of {size})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise LmError(f"{r.path}: symbol {len(entries)} is not UTF-8 text") from exc
    r.offset = offset
    return entries


def write_words_txt(vocab: Vocabulary, path: Path | str) -> None:
    """Write the table as Kaldi `words.txt` ("word id" lines, original order) for a graph without symbols."""
    text = "".join(f"{w} {i}\n" for w, i in vocab.entries)
    Path(path).write_text(text, encoding="utf-8")
