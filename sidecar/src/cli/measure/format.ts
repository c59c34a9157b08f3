/** Human-readable figures for the table and the HTML report (the JSON keeps raw SI numbers). */

const J_PER_WH = 3600;

function scaled(value: number, units: [number, string][]): string {
  const abs = Math.abs(value);
  for (const [factor, unit] of units) {
    if (abs >= factor || factor === units.at(-1)![0]) return `${(value / factor).toPrecision(3)} ${unit}`;
  }
  return `${value.toPrecision(3)}`;
}

/** Joules → `12.3 mWh`, `4.56 Wh`, `1.20 kWh`. */
export function formatEnergy(energyJ: number): string {
  if (energyJ === 0) return '0 Wh';
  return scaled(energyJ / J_PER_WH, [
    [1000, 'kWh'],
    [1, 'Wh'],
    [0.001, 'mWh'],
    [0.000001, 'µWh'],
  ]);
}

/** Grams → `3.21 mg`, `4.56 g`, `1.20 kg`. */
export function formatCo2(emissionsG: number): string {
  if (emissionsG === 0) return '0 g';
  return scaled(emissionsG, [
    [1000, 'kg'],
    [1, 'g'],
    [0.001, 'mg'],
    [0.000001, 'µg'],
  ]);
}

export function formatDuration(durationS: number): string {
  if (durationS < 1) return `${Math.round(durationS * 1000)} ms`;
  if (durationS < 60) return `${durationS.toFixed(2)} s`;
  const minutes = Math.floor(durationS / 60);
  return `${minutes} min ${Math.round(durationS - minutes * 60)} s`;
}
