"""Alice's kernel, as a kernel uses pnav_lab: the sidecar's address comes from PNAV_SIDECAR_URL/TOKEN in the
environment. It opens a tracked run that will submit to PNAV (her PNAV token goes in the close body), waits
while the test kills her sidecar and lets another user take its port, then closes the run.

usage: victim_kernel.py SIGNAL_DIR PNAV_TOKEN
"""

import os
import sys
import time
import warnings

from pnav_lab import EmissionsTracker

signals, pnav_token = sys.argv[1], sys.argv[2]
warnings.simplefilter('always')
tracker = EmissionsTracker(
    offline=False,
    endpoint_url='http://127.0.0.1:9/api/pnav',
    model_id='a' * 64,
    token=pnav_token,
    save_to_file=False,
)
with warnings.catch_warnings(record=True) as caught:
    tracker.start()
    print('opened', tracker.active is not None, flush=True)
    open(os.path.join(signals, 'opened'), 'w').close()
    while not os.path.exists(os.path.join(signals, 'go')):
        time.sleep(0.05)
    tracker.stop()
for warning in caught:
    print('warning:', warning.message, flush=True)
print('closed', flush=True)
