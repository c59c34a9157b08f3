"""`pnav_lab.lightning.PnavCallback`: `Trainer(callbacks=[PnavCallback()])` inside a `%%pnav` cell.

Works with `lightning` and `pytorch_lightning`. Importing this module imports neither.
"""

from __future__ import annotations

from ._callback_base import CallbackActions, lazy_callback_getattr, load_framework


def _build():
    pl = load_framework(
        ('lightning.pytorch', 'pytorch_lightning'),
        'pnav_lab.lightning.PnavCallback',
        'PyTorch Lightning (pip install lightning)',
    )

    class PnavCallback(pl.Callback, CallbackActions):
        """Marks each training epoch, counts training and prediction batches, records the module's facts."""

        def on_fit_start(self, trainer, pl_module):
            self._pnav_model(pl_module)

        def on_predict_start(self, trainer, pl_module):
            self._pnav_model(pl_module)

        def on_train_epoch_start(self, trainer, pl_module):
            self._pnav_epoch_start()

        def on_train_epoch_end(self, trainer, pl_module):
            self._pnav_epoch_end()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._pnav_batch()

        def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            self._pnav_batch()

    return PnavCallback


__getattr__ = lazy_callback_getattr(globals(), _build)
