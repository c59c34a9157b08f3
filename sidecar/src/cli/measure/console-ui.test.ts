import { describe, expect, it } from 'vitest';
import type { Status } from '../../api/schemas.js';
import { resolveLocation } from '../../carbon/index.js';
import { ConsoleUi } from './console-ui.js';

function stream() {
  const chunks: string[] = [];
  return {
    chunks,
    stream: { isTTY: false, write: (text: string) => chunks.push(text) } as unknown as NodeJS.WriteStream,
  };
}

describe('ConsoleUi header', () => {
  it("shows the country the cells will use, not the sidecar's default", () => {
    const out = stream();
    const status = {
      location: resolveLocation({}),
      sources: [
        { component: 'cpu', method: 'tdp-load', measured: false, available: true },
        { component: 'gpu', method: 'none', measured: false, available: true },
      ],
    } as unknown as Status;
    const spain = resolveLocation({ country: 'ESP' });
    new ConsoleUi(out.stream, stream().stream).started({
      notebookPath: 'nb.ipynb',
      cells: [],
      status,
      kernelName: 'python3',
      location: spain,
    });
    const header = out.chunks.join('').split('\n');
    expect(header[0]).toBe('pnav measure nb.ipynb · kernel python3 · 0 code cells');
    expect(header[1]).toBe(`cpu tdp-load (estimated) · ESP ${spain.intensityGPerKWh} g CO2eq/kWh (run)`);
  });
});
