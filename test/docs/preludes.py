"""What each document's examples assume exists, defined before its first example runs.

A README example says `train_one_epoch(net)` or `await client.generate(prompt)` without defining them:
the reader has their own. The prelude gives them small stand-ins so the example itself runs exactly as
printed. Keep a prelude to names only — never to anything that would hide a broken example.
"""

from __future__ import annotations

COMMON = """
import time as _time

class _Net:
    def parameters(self):
        import numpy as np
        return [np.zeros((8, 4)), np.zeros(4)]

net = _Net()
model = net

def train_one_epoch(net):
    _time.sleep(0.05)

def train(model):
    _time.sleep(0.05)
    return model

class _Client:
    async def generate(self, prompt):
        return prompt.upper()

client = _Client()
prompt = 'hola'
"""

# Per document (path relative to the repository root); documents not listed get COMMON only.
PRELUDES: dict[str, str] = {}


def prelude_for(document: str) -> str:
    return COMMON + PRELUDES.get(document, '')
