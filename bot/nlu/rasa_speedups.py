"""Rasa 3.6 steps done with less work for the same numbers: two per-message sparse-matrix steps done with
whole arrays, and loading a DIET model without a training step.

Profiling a domain model's training (docs/benchmarks.md, "Training time") showed a fifth of the training
process in two small functions that DIET calls for every message, every batch and every epoch:

- `RasaDataGenerator._scipy_matrix_to_values` turns a batch of per-message sparse matrices into the
  (indices, values, shape) of one TensorFlow SparseTensor, stacking three small arrays per message;
- `Features._combine_sparse_features` joins a message's features from several featurizers with
  `scipy.sparse.hstack`, whose general block machinery costs far more than the join itself.

`install()` replaces both with versions that concatenate the arrays once. Their outputs are equal to
Rasa's element for element: the same indices in the same order, the same values and dtypes, the same
shapes (tests/bot/test_rasa_speedups.py checks them against Rasa's own functions). Inputs the fast
paths do not cover (4-D dialogue features, non-COO matrices) go to Rasa's functions unchanged.

Loading: `RasaModel.load` builds an empty model's weights by fitting it one step on one example (tracing
the whole training step with its gradients and creating the optimizer's slots), then overwrites every
weight from the checkpoint. Building the weights needs only one forward pass of the loss, eagerly; the
checkpoint then restores the same weights, and the optimizer's, which prediction never reads, stay
behind. About 3 s less per DIET model loaded (each held-out parse in training, every server start and
reload), the same parses (tests/bot/test_rasa_speedups.py). Loading for fine-tuning keeps Rasa's way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from scipy.sparse import coo_matrix

_rasa: dict[str, Any] = {}  # Rasa's own functions, kept at install (the tests compare against them)


def scipy_matrix_to_values(array_of_sparse: Any) -> list[np.ndarray]:
    """Rasa's `RasaDataGenerator._scipy_matrix_to_values` for 3-D feature arrays, vectorised."""
    from rasa.utils.tensorflow.data_generator import RasaDataGenerator

    if array_of_sparse.number_of_dimensions == 4:
        return RasaDataGenerator._4d_scipy_matrix_to_values(array_of_sparse)
    # Rasa converts every matrix when the first is not COO; the same here, per matrix.
    if isinstance(array_of_sparse[0], coo_matrix):
        matrices = list(array_of_sparse)
    else:
        matrices = [x.tocoo() for x in array_of_sparse]
    rows = [x.row for x in matrices]
    sizes = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
    batch = np.repeat(np.arange(len(matrices), dtype=np.int64), sizes)
    indices = np.empty((batch.size, 3), dtype=np.int64)
    indices[:, 0] = batch
    indices[:, 1] = np.concatenate(rows)
    indices[:, 2] = np.concatenate([x.col for x in matrices])
    data = np.concatenate([x.data for x in matrices]).astype(np.float32)
    max_seq_len = max(x.shape[0] for x in matrices)
    shape = np.array((len(matrices), max_seq_len, matrices[0].shape[-1]), dtype=np.int64)
    return [indices, data, shape]


def hstack_coo(left: coo_matrix, right: coo_matrix) -> coo_matrix:
    """`scipy.sparse.hstack([left, right])` of two COO matrices with as many rows: the same COO matrix
    (entries in the same order, the same data and index dtypes) without the block bookkeeping."""
    shape = (left.shape[0], left.shape[1] + right.shape[1])
    idx_dtype = scipy.sparse._sputils.get_index_dtype(maxval=max(shape))
    dtype = np.result_type(left.dtype, right.dtype)
    data = np.concatenate([left.data, right.data]).astype(dtype, copy=False)
    row = np.concatenate([left.row, right.row]).astype(idx_dtype, copy=False)
    col = np.concatenate([left.col.astype(idx_dtype), right.col.astype(idx_dtype) + left.shape[1]])
    return coo_matrix((data, (row, col)), shape=shape)


def install() -> None:
    """Put the fast paths in place of Rasa's functions (idempotent; training and parsing both use them)."""
    if _rasa:
        return
    _rasa.update(rasa_functions())
    rasa_combine = _rasa["combine_sparse_features"]

    def combine_sparse_features(self: Features, additional_features: Features) -> None:
        left, right = self.features, additional_features.features
        if type(left) is coo_matrix and type(right) is coo_matrix and left.shape[0] == right.shape[0]:
            self.features = hstack_coo(left, right)
            self._cached_fingerprint = None
        else:
            rasa_combine(self, additional_features)  # its checks and messages

    from rasa.shared.nlu.training_data.features import Features
    from rasa.utils.tensorflow.data_generator import RasaDataGenerator
    from rasa.utils.tensorflow.models import RasaModel

    Features._combine_sparse_features = combine_sparse_features
    RasaDataGenerator._scipy_matrix_to_values = staticmethod(scipy_matrix_to_values)
    RasaModel.load = classmethod(load_without_training_step)


def load_without_training_step(
    cls: type,
    model_file_name: str,
    model_data_example: Any,
    predict_data_example: Any = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """Rasa's `RasaModel.load` with the weights built by one eager forward pass of the loss instead of a
    one-step `fit` (see the module's docstring)."""
    if finetune_mode:  # training goes on: the optimizer's state matters
        return _rasa["model_load"](
            cls, model_file_name, model_data_example, predict_data_example, True, *args, **kwargs
        )
    import tensorflow as tf
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator

    model = cls(*args, **kwargs)
    config = kwargs.get("config", {})
    model.compile(
        optimizer=tf.keras.optimizers.Adam(config.get("learning_rate", 0.001)),
        run_eagerly=config.get("run_eagerly"),
    )
    batch, _ = RasaBatchDataGenerator(model_data_example, batch_size=1)[0]
    model._training = False  # no dropout; the layers create the same weights either way
    model.batch_loss(batch)
    model._training = None  # as a new model: prediction sets its own phase
    # The optimizer's slots in the checkpoint have no counterpart here: partial on purpose (no warnings).
    model.load_weights(model_file_name).expect_partial()
    if predict_data_example:
        model.run_inference(predict_data_example)  # traces prediction now, as Rasa's load does
    return model


def rasa_functions() -> dict[str, Any]:
    """Rasa's own functions, whether or not `install()` has replaced them."""
    if _rasa:
        return dict(_rasa)
    from rasa.shared.nlu.training_data.features import Features
    from rasa.utils.tensorflow.data_generator import RasaDataGenerator
    from rasa.utils.tensorflow.models import RasaModel

    return {
        "combine_sparse_features": Features._combine_sparse_features,
        "scipy_matrix_to_values": RasaDataGenerator._scipy_matrix_to_values,
        "model_load": RasaModel.load.__func__,
    }
