"""Reading the word table embedded in a Vosk graph: the real bundled Gr.fst and small pynini files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stt import SttError
from stt.lm.errors import LmError
from stt.lm.model_path import find_bundled_model
from stt.lm.vocab import read_vocabulary, write_words_txt


@pytest.fixture(scope="module")
def bundled():
    return read_vocabulary(find_bundled_model() / "graph" / "Gr.fst")


def test_bundled_vocabulary_has_model_words_not_eojeols(bundled):
    assert len(bundled) == 503352
    assert bundled.eps_id == 0
    # the lookahead graph gives <s> and </s> one id
    assert bundled.bos_id == bundled.eos_id == bundled.id("<s>")
    assert "주차" in bundled and "는" in bundled and "돼요" in bundled
    assert "주차는" not in bundled
    assert bundled.word(bundled.id("주차")) == "주차"
    # numbers are words, never digits
    assert "일곱" in bundled and "다섯" in bundled and "7" not in bundled


def test_general_ids_exclude_non_words(bundled):
    general = set(bundled.general_ids().tolist())
    for special in ("<eps>", "<s>", "#0", "!SIL", "<UNK>"):
        assert bundled.id(special) not in general
    assert bundled.id("예약") in general
    assert len(general) > 500_000


def test_second_read_is_cached(bundled):
    assert read_vocabulary(find_bundled_model() / "graph" / "Gr.fst") is bundled


# pynini runs in a child process: importing it before vosk loads a model deadlocks that load (both
# carry OpenFst), and other tests of the session load Vosk models.
_WITH_SYMBOLS = """
import json, sys, pynini
path, words = sys.argv[1], json.loads(sys.argv[2])
table = pynini.SymbolTable(name="toy-words")
for word, key in words.items():
    table.add_symbol(word, key)
f = pynini.Fst()
s = f.add_state()
f.set_start(s)
f.set_final(s)
f.add_arc(s, pynini.Arc(words["예약"], words["예약"], 0.5, s))
f.set_input_symbols(table)
f.set_output_symbols(table)
f.write(path)
"""
_WITHOUT_SYMBOLS = "import sys, pynini; pynini.accep('ab').write(sys.argv[1])"


def _pynini(script: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, timeout=60)


def _fst_with_symbols(path: Path, words: dict[str, int]) -> None:
    _pynini(_WITH_SYMBOLS, str(path), json.dumps(words, ensure_ascii=False))


def test_reads_ids_of_a_pynini_written_table(tmp_path):
    # (pynini's writer mishandles two symbols on one key, so the toy table keeps <s> and </s> apart)
    words = {"<eps>": 0, "예약": 7, "주차": 3, "<s>": 9, "</s>": 4}
    path = tmp_path / "toy.fst"
    _fst_with_symbols(path, words)
    vocab = read_vocabulary(path)
    assert vocab.name == "toy-words"
    assert dict(vocab.entries) == words
    assert (vocab.bos_id, vocab.eos_id) == (9, 4)
    assert vocab.id("주차") == 3

    out = tmp_path / "words.txt"
    write_words_txt(vocab, out)
    assert out.read_text(encoding="utf-8").splitlines() == [f"{w} {i}" for w, i in vocab.entries]


def test_missing_sentence_marks_is_an_error(tmp_path):
    path = tmp_path / "nomarks.fst"
    _fst_with_symbols(path, {"<eps>": 0, "예약": 1})
    with pytest.raises(LmError, match=r"nomarks\.fst.*<s>"):
        read_vocabulary(path)


def test_fst_without_symbols_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "plain.fst"
    _pynini(_WITHOUT_SYMBOLS, str(path))
    with pytest.raises(LmError, match=r"plain\.fst.*no embedded symbol table"):
        read_vocabulary(path)


@pytest.mark.parametrize("content", [b"", b"not an fst at all", b"\xd6\xfd\xb2\x7e\x05\x00"])
def test_garbage_is_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.fst"
    path.write_bytes(content)
    with pytest.raises(SttError, match=r"bad\.fst"):
        read_vocabulary(path)


def test_truncated_table_is_an_error(tmp_path):
    path = tmp_path / "toy.fst"
    _fst_with_symbols(path, {"<eps>": 0, "예약": 7, "<s>": 9, "</s>": 4})
    cut = tmp_path / "cut.fst"
    cut.write_bytes(path.read_bytes()[:140])
    with pytest.raises(LmError, match=r"cut\.fst.*ends inside"):
        read_vocabulary(cut)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(LmError, match="nothere"):
        read_vocabulary(tmp_path / "nothere.fst")
