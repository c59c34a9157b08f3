"""Alice's kernel finding the sidecar through the runtime dir only (PNAV_RUNTIME_DIR), as a new kernel does.

usage: victim_client.py
"""

from pnav_lab.client import SidecarClient
from pnav_lab.errors import SidecarUnavailable

try:
    print('status:', SidecarClient().status().get('version'), flush=True)
except SidecarUnavailable as error:
    print(f'unavailable: {error}', flush=True)
