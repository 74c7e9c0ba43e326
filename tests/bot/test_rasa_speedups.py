"""The vectorised stand-ins for two of Rasa's sparse-matrix steps give exactly Rasa's results."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.tensorflow.data_generator import RasaDataGenerator
from rasa.utils.tensorflow.model_data import FeatureArray

from bot.nlu import rasa_speedups
from tests.bot.test_train_fixtures import trained_nlu  # noqa: F401


def _random_coo(rng: np.random.Generator, rows: int, width: int) -> scipy.sparse.coo_matrix:
    return scipy.sparse.random(rows, width, density=0.1, format="coo", random_state=rng)


def _feature_array(matrices: list[scipy.sparse.spmatrix]) -> FeatureArray:
    holder = np.empty(len(matrices), dtype=object)
    holder[:] = matrices
    return FeatureArray(holder, number_of_dimensions=3)


def _assert_same_arrays(expected: list[np.ndarray], got: list[np.ndarray]) -> None:
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        assert e.dtype == g.dtype
        np.testing.assert_array_equal(e, g)


@pytest.mark.parametrize("fmt", ["coo", "csr"])
def test_batch_values_equal_rasa_for_coo_and_csr_matrices(fmt: str) -> None:
    rng = np.random.default_rng(7)
    # sequences of different lengths, one message with no non-zero entry at all
    matrices = [_random_coo(rng, int(rng.integers(1, 9)), 300).asformat(fmt) for _ in range(40)]
    matrices[5] = scipy.sparse.coo_matrix((3, 300)).asformat(fmt)
    batch = _feature_array(matrices)
    rasa = rasa_speedups.rasa_functions()["scipy_matrix_to_values"]
    _assert_same_arrays(rasa(batch), rasa_speedups.scipy_matrix_to_values(batch))


def test_hstack_coo_is_scipy_hstack() -> None:
    rng = np.random.default_rng(3)
    for rows in (1, 4, 11):
        left, right = _random_coo(rng, rows, 50), _random_coo(rng, rows, 700).astype(np.float32)
        expected = scipy.sparse.hstack([left, right])
        got = rasa_speedups.hstack_coo(left, right)
        assert type(got) is type(expected) and got.shape == expected.shape
        assert got.dtype == expected.dtype and got.row.dtype == expected.row.dtype
        for name in ("row", "col", "data"):
            np.testing.assert_array_equal(getattr(expected, name), getattr(got, name))


def test_installed_functions_replace_rasa_and_keep_its_checks() -> None:
    rasa_speedups.install()
    rasa_speedups.install()  # twice is harmless
    assert RasaDataGenerator._scipy_matrix_to_values is rasa_speedups.scipy_matrix_to_values
    rng = np.random.default_rng(1)
    combined = Features(_random_coo(rng, 3, 20), "sequence", "text", "a")
    combined.combine_with_features(Features(_random_coo(rng, 3, 30), "sequence", "text", "b"))
    assert combined.features.shape == (3, 50)
    with pytest.raises(ValueError, match="sequence dimensions do not match"):
        combined.combine_with_features(Features(_random_coo(rng, 4, 5), "sequence", "text", "c"))
    # a CSR matrix goes the general way and still joins
    csr = Features(_random_coo(rng, 3, 10).tocsr(), "sequence", "text", "d")
    csr.combine_with_features(Features(_random_coo(rng, 3, 10), "sequence", "text", "e"))
    assert csr.features.shape == (3, 20)


def test_a_model_loaded_without_a_training_step_parses_as_rasa_loads_it(
    trained_nlu,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rasa.utils.tensorflow.models import RasaModel

    from bot.models import current_model_set
    from bot.nlu.heldout import parse_all
    from bot.nlu.parser import load_agent

    root, _ = trained_nlu
    archives = current_model_set(root / "models").paths
    texts = ["짬뽕 얼마예요", "추천 좀 해 줘", "예약 취소요", "주식 시세 알려줘", "안녕하세요", "ㅋㅋ"]
    rasa_speedups.install()
    rasa_load = rasa_speedups.rasa_functions()["model_load"]
    for name in ("router", "menu"):
        with monkeypatch.context() as m:
            m.setattr(RasaModel, "load", classmethod(rasa_load))
            expected = parse_all(load_agent(archives[name]), texts)

        def no_fit(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("the lean load must not fit")

        with monkeypatch.context() as m:
            m.setattr(RasaModel, "fit", no_fit)
            got = parse_all(load_agent(archives[name]), texts)
        assert got == expected  # every intent, confidence and ranking, to the last bit
