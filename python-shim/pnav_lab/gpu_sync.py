"""Waits for queued GPU work before a run or epoch closes, so a cell's kernels count in that cell.

CUDA calls return before the GPU has run them: without this, work queued at the end of a cell is
measured in the next one. Only frameworks the user already imported are looked at (``sys.modules``),
never imported here, and only when they already initialised the GPU: a CPU-only session pays nothing.
"""

from __future__ import annotations

import sys


def _torch() -> bool:
    torch = sys.modules.get('torch')
    cuda = getattr(torch, 'cuda', None)
    if cuda is None or not cuda.is_initialized():
        return False
    for device in range(cuda.device_count()):
        cuda.synchronize(device)
    return True


def _cupy() -> bool:
    cupy = sys.modules.get('cupy')
    if cupy is None or cupy.get_default_memory_pool().used_bytes() == 0:
        return False  # no array on the GPU: nothing can be queued (and the device is not initialised here)
    cupy.cuda.runtime.deviceSynchronize()
    return True


def _jax() -> bool:
    bridge = sys.modules.get('jax._src.xla_bridge')
    if not getattr(bridge, '_backends', None):
        return False  # no backend yet: asking for arrays would start one
    for array in sys.modules['jax'].live_arrays():
        array.block_until_ready()
    return True


SYNCHRONISERS = {'torch': _torch, 'cupy': _cupy, 'jax': _jax}


def synchronize() -> list[str]:
    """Synchronises every framework with GPU work in flight; returns their names. Raises what they raise."""
    return [name for name, sync in SYNCHRONISERS.items() if name in sys.modules and sync()]
