"""Runs the real calculadorapnav on a tiny function (used by calculadorapnav.test.ts).

usage: python calculadorapnav-driver.py offline OUT_DIR N_BATCH N_EPOCH
       python calculadorapnav-driver.py online OUT_DIR ENDPOINT_URL TOKEN MODEL_ID
"""

import sys
import time

from calculadorapnav.emissions_tracker import track_emissions

mode, out_dir = sys.argv[1], sys.argv[2]

if mode == 'offline':
    n_batch, n_epoch = int(sys.argv[3]), int(sys.argv[4])
    tracker = track_emissions(
        type_process='training',
        offline=True,
        country_iso_code='ESP',
        measure_power_secs=1,
        n_batch=n_batch,
        n_epoch=n_epoch,
        allow_multiple_runs=True,
        output_dir=out_dir,
    )
else:
    endpoint_url, token, model_id = sys.argv[3], sys.argv[4], sys.argv[5]
    tracker = track_emissions(
        type_process='training',
        token=token,
        model_id=model_id,
        endpoint_url=endpoint_url,
        measure_power_secs=1,
        n_batch=10,
        n_epoch=2,
        allow_multiple_runs=True,
        output_dir=out_dir,
    )


@tracker
def tiny():
    time.sleep(1.2)
    return 1  # truthy, no model: calculadorapnav's "Unknown library" path


tiny()
