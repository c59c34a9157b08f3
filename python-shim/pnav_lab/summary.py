"""The one compact line printed after a measured cell or function, and the unit formatting
shared with the lab extension (same scale, same three significant digits)."""

from __future__ import annotations

# Largest first: the first unit in which the rounded amount reads at least 1 wins; the last one
# takes whatever is smaller. The lab extension's format.ts uses the same scale.
_ENERGY_SCALE = (('MJ', 1e6), ('kJ', 1e3), ('J', 1.0), ('mJ', 1e-3))
_EMISSIONS_SCALE = (('t', 1e6), ('kg', 1e3), ('g', 1.0), ('mg', 1e-3))


class _Display:
    """Whether the frontend draws its own line under measured cells (JupyterLab with PNAV Lab)."""

    frontend_line = False


def set_frontend_line(drawn: bool) -> None:
    """Called by the lab extension when it loads the kernel extension: it shows the figures under
    the cell, so printing them too would show them twice."""
    _Display.frontend_line = bool(drawn)


def prints_summary() -> bool:
    return not _Display.frontend_line


def _shown(value: float) -> float:
    return float(f'{value:.3g}')


def _scaled(amount: float, scale, zero_unit: str) -> str:
    if amount == 0:
        return f'0 {zero_unit}'
    magnitude = abs(amount)
    unit, size = next(((u, s) for u, s in scale[:-1] if _shown(magnitude / s) >= 1), scale[-1])
    return f'{_shown(amount / size):.3g} {unit}'


def format_energy(energy_j: float) -> str:
    return _scaled(float(energy_j), _ENERGY_SCALE, 'J')


def format_emissions(emissions_g: float) -> str:
    return f'{_scaled(float(emissions_g), _EMISSIONS_SCALE, "g")} CO2e'


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
