"""Kernel-only check of an INSTALLED pnav-lab, run by the Python of the environment it was installed in.

A plain jupyter_client kernel (no JupyterLab, no server extension) runs `%load_ext pnav_lab` and a
`%%pnav --epochs 2` cell; the kernel side starts the sidecar bundled in the wheel and the cell prints
its summary line. Prints one JSON object: the Python version, where pnav_lab was imported from, the
cell's outputs, and the sidecar's runtime file and command line (so the caller can check which
sidecar and which Node ran, and stop it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jupyter_client.manager import start_new_kernel

CELL = '%%pnav --epochs 2\nimport time, pnav_lab\nfor epoch in pnav_lab.epochs(range(2)):\n    time.sleep(0.2)\n'


def execute(client, code: str) -> list[list[str]]:
    """The cell's outputs as [kind, text] pairs, in order, once the kernel is idle again."""
    msg_id = client.execute(code)
    outputs = []
    while True:
        msg = client.get_iopub_msg(timeout=120)
        if msg['parent_header'].get('msg_id') != msg_id:
            continue
        kind, content = msg['msg_type'], msg['content']
        if kind == 'stream':
            outputs.append([content['name'], content['text']])
        elif kind in ('execute_result', 'display_data'):
            outputs.append(['data', content['data'].get('text/plain', '')])
        elif kind == 'error':
            outputs.append(['error', '\n'.join(content['traceback'])])
        elif kind == 'status' and content['execution_state'] == 'idle':
            return outputs


def main() -> None:
    manager, client = start_new_kernel(kernel_name='python3')
    try:
        where = execute(client, 'import pnav_lab; print(pnav_lab.__file__)')
        load = execute(client, '%load_ext pnav_lab')
        cell = execute(client, CELL)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    runtime_file = Path(os.environ['PNAV_RUNTIME_DIR']) / 'pnav-sidecar.json'
    sidecar = json.loads(runtime_file.read_text()) if runtime_file.is_file() else None
    command_line = None
    if sidecar is not None:
        try:
            command_line = Path(f'/proc/{sidecar["pid"]}/cmdline').read_bytes().decode().split('\0')[:-1]
        except OSError:
            pass
    print(
        json.dumps(
            {
                'python': '.'.join(str(part) for part in sys.version_info[:3]),
                'pnavLabFile': where,
                'load': load,
                'cell': cell,
                'sidecar': sidecar and {'pid': sidecar['pid'], 'url': sidecar['url']},
                'sidecarCommand': command_line,
            }
        )
    )


if __name__ == '__main__':
    main()
