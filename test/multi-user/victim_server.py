"""Alice's Jupyter server side, as the pnav_lab server extension runs it: `SidecarManager.ensure()` with
PNAV_SIDECAR_URL/TOKEN in the environment (no new sidecar started), then one request through the proxy's
transport, both aimed at a port another user now holds.

usage: victim_server.py URL
"""

import asyncio
import os
import sys

from pnav_lab.serverext import SidecarManager
from pnav_lab.verified_transport import fetch_verified
from tornado import httpclient

url = sys.argv[1]
manager = SidecarManager(spawn=False)
print('ensure:', manager.ensure(), manager.error, flush=True)


async def proxied():
    request = httpclient.HTTPRequest(
        f'{url}/api/v1/runs', headers={'Authorization': f'Bearer {os.environ["PNAV_SIDECAR_TOKEN"]}'}
    )
    try:
        response = await fetch_verified(os.environ['PNAV_SIDECAR_TOKEN'], '', request)
        print('proxy answer:', response.code, flush=True)
    except Exception as error:  # noqa: BLE001 -- printed for the test to read
        print(f'proxy refused: {type(error).__name__}: {error}', flush=True)


asyncio.run(proxied())
