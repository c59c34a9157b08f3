"""`pnav_lab.keras.PnavCallback`: `model.fit(..., callbacks=[PnavCallback()])` inside a `%%pnav` cell.

Importing this module does not import Keras; using the class does (you are using Keras then).
"""

from __future__ import annotations

from ._callback_base import CallbackActions, lazy_callback_getattr, load_framework


def _build():
    keras = load_framework(
        ('keras', 'tensorflow.keras', 'tf_keras'),
        'pnav_lab.keras.PnavCallback',
        'Keras (pip install keras, or tensorflow)',
    )
    callbacks = (
        keras.callbacks
        if hasattr(keras, 'callbacks')
        else load_framework((f'{keras.__name__}.callbacks',), 'pnav_lab.keras.PnavCallback', 'Keras')
    )

    class PnavCallback(callbacks.Callback, CallbackActions):
        """Marks each epoch, counts training and prediction batches, records the model's facts."""

        def on_train_begin(self, logs=None):
            self._pnav_model(self.model)

        def on_predict_begin(self, logs=None):
            self._pnav_model(self.model)

        def on_epoch_begin(self, epoch, logs=None):
            self._pnav_epoch_start()

        def on_epoch_end(self, epoch, logs=None):
            self._pnav_epoch_end()

        def on_train_batch_end(self, batch, logs=None):
            self._pnav_batch()

        def on_predict_batch_end(self, batch, logs=None):
            self._pnav_batch()

    return PnavCallback


__getattr__ = lazy_callback_getattr(globals(), _build)
