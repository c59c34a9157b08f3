"""Runs one compatibility scenario with calculadorapnav's or PNAV Lab's `track_emissions`: the same
function, the same arguments (used by calculadorapnav-content.test.ts).

usage: python same-scenario.py calculadorapnav|pnav_lab SCENARIO OUT_DIR [ENDPOINT_URL TOKEN MODEL_ID]

Prints one JSON line: {"raised": <exception text or null>}.
"""

import json
import sys
import time

tool, scenario, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
endpoint_url, token, model_id = (sys.argv[4:7] + [None, None, None])[:3]

if tool == 'calculadorapnav':
    from calculadorapnav.emissions_tracker import track_emissions
else:
    from pnav_lab import track_emissions

common = {'type_process': 'training', 'output_dir': out_dir, 'measure_power_secs': 1, 'allow_multiple_runs': True}
online = {'token': token, 'model_id': model_id, 'endpoint_url': endpoint_url}
SCENARIOS = {
    # The manual's online example: no country given; on a machine whose location is unknown.
    'online-no-country': online,
    'online-raises': online,
    'aws-eu-west-1': {'offline': True, 'cloud_provider': 'aws', 'cloud_region': 'eu-west-1'},
    'azure-westeurope': {'offline': True, 'cloud_provider': 'azure', 'cloud_region': 'westeurope'},
    'esp-explicit': {'offline': True, 'country_iso_code': 'ESP', 'region': 'Madrid'},
    'raises': {'offline': True, 'country_iso_code': 'ESP'},
    'int-pue': {'offline': True, 'country_iso_code': 'ESP', 'pue': 1},
}
kwargs = {**common, **SCENARIOS[scenario]}


@track_emissions(**kwargs)
def tiny():
    time.sleep(1.2)
    if scenario.endswith('raises'):
        raise RuntimeError('diverged')
    return 1  # truthy, no model: calculadorapnav's "Unknown library" path


raised = None
try:
    tiny()
except RuntimeError as error:
    raised = str(error)
print(json.dumps({'raised': raised}))
