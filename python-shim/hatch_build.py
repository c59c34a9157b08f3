"""Tags the wheel for the platform of the native module bundled with the sidecar.

`sidecar/scripts/bundle.mjs` writes `pnav_lab/sidecar/platform.json` with the wheel platform tag its
koffi binary runs on; without a bundled sidecar (an editable install) the wheel stays pure Python.
"""

from __future__ import annotations

import json
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != 'wheel' or version == 'editable':
            return
        platform_file = Path(self.root) / 'pnav_lab' / 'sidecar' / 'platform.json'
        if not platform_file.is_file():
            return
        wheel_tag = json.loads(platform_file.read_text(encoding='utf-8'))['wheelTag']
        build_data['pure_python'] = False
        build_data['tag'] = f'py3-none-{wheel_tag}'
