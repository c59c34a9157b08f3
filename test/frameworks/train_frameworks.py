"""Trains tiny Keras, Lightning and Hugging Face models for 2 epochs each inside pnav runs, with the pnav callbacks.

Run by test/integration/frameworks.test.ts in a throw-away venv holding the real frameworks
(test/frameworks/requirements.txt), against a real sidecar found through PNAV_SIDECAR_URL/TOKEN.
Prints one JSON object on stdout: for each case the pnav run id and the framework's own figures
(its parameter count, the epochs and batches it ran), so the test can compare them with the run
the sidecar recorded. Everything the frameworks print goes to stderr.

Keras runs in an IPython `%%pnav` cell (the notebook path); Lightning and Hugging Face under
`pnav_lab.EmissionsTracker`; the model-facts cases (calculadorapnav compatibility cases 17 and 18)
under `pnav_lab.track_emissions`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile

os.environ.setdefault('KERAS_BACKEND', 'torch')  # keras 3 on PyTorch: no TensorFlow needed

import keras  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
import pnav_lab  # noqa: E402
import pnav_lab.huggingface  # noqa: E402
import pnav_lab.keras  # noqa: E402
import pnav_lab.lightning  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

EPOCHS = 2
N_SAMPLES = 1024
N_FEATURES = 16
BATCH_SIZE = 32  # 32 batches an epoch: long enough (~0.1 s) for the fake RAPL counters to advance


def regression_data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N_SAMPLES, N_FEATURES, generator=generator)
    y = x @ torch.randn(N_FEATURES, 1, generator=generator) + 0.1 * torch.randn(N_SAMPLES, 1, generator=generator)
    return x, y


def torch_parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------- Keras


def train_keras() -> dict:
    """`model.fit(..., callbacks=[pnav_lab.keras.PnavCallback()])` in a `%%pnav` cell of a real IPython shell."""
    x, y = (t.numpy() for t in regression_data(1))
    model = keras.Sequential(
        [keras.Input(shape=(N_FEATURES,)), keras.layers.Dense(32, activation='relu'), keras.layers.Dense(1)]
    )
    model.compile(optimizer='adam', loss='mse')
    shell = InteractiveShell.instance()
    shell.run_line_magic('load_ext', 'pnav_lab')
    shell.user_ns.update(model=model, x=x, y=y, PnavCallback=pnav_lab.keras.PnavCallback)
    cell = shell.run_cell(
        f'%%pnav --type training --epochs {EPOCHS} --no-save --quiet --label keras\n'
        f'history = model.fit(x, y, epochs={EPOCHS}, batch_size={BATCH_SIZE}, verbose=0, callbacks=[PnavCallback()])\n'
    )
    cell.raise_error()
    history = shell.user_ns['history']
    return {
        'runId': pnav_lab.last_run()['run']['id'],
        'nParameters': model.count_params(),
        'epochs': len(history.epoch),
        'batchesPerEpoch': -(-N_SAMPLES // BATCH_SIZE),
    }


# ------------------------------------------------------------------------------------ Lightning


class TinyLightningModule(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def train_lightning() -> dict:
    x, y = regression_data(2)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH_SIZE)
    module = TinyLightningModule()
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        callbacks=[pnav_lab.lightning.PnavCallback()],
        enable_checkpointing=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator='cpu',
    )
    with pnav_lab.EmissionsTracker(
        type_process='training', n_epoch=EPOCHS, save_to_file=False, experiment_name='lightning'
    ) as tracker:
        trainer.fit(module, loader)
    summary = pl.utilities.model_summary.ModelSummary(module)
    return {
        'runId': tracker.response['run']['id'],
        'nParameters': summary.total_parameters,
        'epochs': trainer.current_epoch,
        'batchesPerEpoch': trainer.num_training_batches,
    }


# --------------------------------------------------------------------------------- Hugging Face


class TinyRegressor(torch.nn.Module):
    """The smallest model `transformers.Trainer` accepts: a module whose forward returns the loss."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def forward(self, x, labels=None):
        prediction = self.net(x)
        loss = torch.nn.functional.mse_loss(prediction, labels) if labels is not None else None
        return {'loss': loss, 'logits': prediction}


class RegressionDataset(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {'x': self.x[i], 'labels': self.y[i]}


def train_huggingface(output_dir: str) -> dict:
    x, y = regression_data(3)
    model = TinyRegressor()
    args = transformers.TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH_SIZE,
        report_to=[],
        use_cpu=True,
        save_strategy='no',
        logging_strategy='no',
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=RegressionDataset(x, y),
        callbacks=[pnav_lab.huggingface.PnavCallback()],
    )
    with pnav_lab.EmissionsTracker(
        type_process='training', n_epoch=EPOCHS, save_to_file=False, experiment_name='huggingface'
    ) as tracker:
        trainer.train()
    return {
        'runId': tracker.response['run']['id'],
        'nParameters': trainer.get_num_trainable_parameters(),
        'epochs': int(trainer.state.epoch),
        'batchesPerEpoch': len(trainer.get_train_dataloader()),
        'optimizerSteps': trainer.state.global_step,
    }


# -------------------------------------------------------------------------------- model facts


def model_facts_cases() -> dict:
    """calculadorapnav compatibility: case 17 (torch `nn.Linear(10, 5)`), case 18 (Keras input (784,))."""

    @pnav_lab.track_emissions(offline=True, country_iso_code='ESP', type_process='training', save_to_file=False)
    def train(model):
        return None

    linear = torch.nn.Linear(10, 5)
    train(linear)
    torch_run = pnav_lab.last_run()['run']['id']

    dense = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10)])
    train(dense)
    keras_run = pnav_lab.last_run()['run']['id']
    return {
        'torchLinear': {'runId': torch_run, 'nParameters': torch_parameter_count(linear)},
        'keras784': {'runId': keras_run, 'nParameters': dense.count_params(), 'inputShape': list(dense.input_shape)},
    }


def main() -> None:
    result = {'versions': {}}
    with contextlib.redirect_stdout(sys.stderr), tempfile.TemporaryDirectory() as tmp:
        result['versions'] = {
            'python': sys.version.split()[0],
            'torch': torch.__version__,
            'keras': keras.__version__,
            'kerasBackend': keras.backend.backend(),
            'lightning': pl.__version__,
            'transformers': transformers.__version__,
        }
        result['keras'] = train_keras()
        result['lightning'] = train_lightning()
        result['huggingface'] = train_huggingface(tmp)
        result['modelFacts'] = model_facts_cases()
    print(json.dumps(result))


if __name__ == '__main__':
    main()
