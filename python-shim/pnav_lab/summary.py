"""The one compact line printed after a measured cell or function."""

from __future__ import annotations


def format_energy(energy_j: float) -> str:
    wh = energy_j / 3600.0
    if wh >= 1000:
        return f'{wh / 1000:.3g} kWh'
    if wh >= 1:
        return f'{wh:.3g} Wh'
    if energy_j >= 1000:
        return f'{energy_j / 1000:.3g} kJ'
    if energy_j >= 1:
        return f'{energy_j:.3g} J'
    return f'{energy_j * 1000:.3g} mJ'


def format_emissions(emissions_g: float) -> str:
    if emissions_g >= 1000:
        return f'{emissions_g / 1000:.3g} kg CO2e'
    if emissions_g >= 1:
        return f'{emissions_g:.3g} g CO2e'
    return f'{emissions_g * 1000:.3g} mg CO2e'


def format_duration(duration_s: float) -> str:
    if duration_s >= 3600:
        return f'{int(duration_s // 3600)} h {int(duration_s % 3600 // 60)} min'
    if duration_s >= 60:
        return f'{int(duration_s // 60)} min {duration_s % 60:.0f} s'
    return f'{duration_s:.3g} s'


def _component(name: str, figure: dict) -> str:
    if not figure.get('included', True):
        return f'{name} excluded'
    method = figure.get('method', 'none')
    if method == 'none':
        return f'{name} n/a'
    quality = figure.get('quality')
    if quality == 'unavailable':  # the source gave no value: not a measured zero
        return f'{name} unavailable ({method})'
    how = 'measured' if figure.get('measured') else 'estimated'
    notes = [method] + (['coarse'] if quality == 'coarse' else []) + (['degraded'] if figure.get('degraded') else [])
    return f'{name} {format_energy(float(figure.get("energyJ", 0.0)))} {how} ({", ".join(notes)})'


def _headline(run: dict) -> str:
    """The machine's energy after PUE, and the kernel's attributed share of it next to it (also after PUE)."""
    energy = float(run.get('facilityEnergyJ', run.get('energyJ', 0.0)))
    text = f'{format_energy(energy)} machine'
    attribution = run.get('attribution')
    if attribution:
        kernel = attribution.get('facilityEnergyJ')
        if kernel is None:  # sidecars before it: the share before PUE
            kernel = float(attribution.get('energyJ', 0.0)) * float(run.get('pue', 1.0))
        text += f' (kernel {format_energy(float(kernel))})'
    return text


def summary_line(run: dict) -> str:
    parts = [
        _headline(run),
        format_emissions(float(run.get('emissionsG', 0.0))),
        format_duration(float(run.get('durationS', 0.0))),
    ]
    breakdown = run.get('energy') or {}
    components = ', '.join(_component(n, breakdown[n]) for n in ('cpu', 'gpu', 'ram') if n in breakdown)
    location = run.get('location') or {}
    where = f' @ {location.get("countryIso3")} {location.get("intensityGPerKWh", 0):.0f} g/kWh' if location else ''
    status = '' if run.get('status') in (None, 'ok') else f' [{run["status"]}]'
    restarts = run.get('sidecarRestarts')
    if restarts:
        status += f' [spans a sidecar restart: {float(restarts["unmeasuredS"]):.1f} s not measured]'
    return f'pnav: {" · ".join(parts)}{status} — {components}{where}'
