"""`pnav_lab.huggingface.PnavCallback`: `Trainer(..., callbacks=[PnavCallback()])` inside a `%%pnav` cell.

A batch is one micro-batch: gradient accumulation substeps are counted one by one.
Importing this module does not import transformers.
"""

from __future__ import annotations

from ._callback_base import CallbackActions, lazy_callback_getattr, load_framework


def _build():
    transformers = load_framework(
        ('transformers',), 'pnav_lab.huggingface.PnavCallback', 'Hugging Face transformers (pip install transformers)'
    )

    class PnavCallback(transformers.TrainerCallback, CallbackActions):
        """Marks each epoch, counts micro-batches, records the model's facts."""

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self._pnav_model(model)

        def on_epoch_begin(self, args, state, control, **kwargs):
            self._pnav_epoch_start()

        def on_epoch_end(self, args, state, control, **kwargs):
            self._pnav_epoch_end()

        def on_substep_end(self, args, state, control, **kwargs):
            self._pnav_batch()

        def on_step_end(self, args, state, control, **kwargs):
            self._pnav_batch()

    return PnavCallback


__getattr__ = lazy_callback_getattr(globals(), _build)
