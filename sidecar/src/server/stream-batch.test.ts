import { describe, expect, it } from 'vitest';
import type { Run, Sample, StreamMessage } from '../api/schemas.js';
import { StreamBatch } from './stream-batch.js';

const sample = (t: number): Sample => ({ t, powerW: { cpu: 10, gpu: null, ram: 3 }, totalPowerW: 13 });
const run = { id: 'r1', status: 'open' } as Run;
const kinds = (batch: StreamMessage[]) => batch.map(m => (m.type === 'run' ? `run:${m.event}` : m.type));

describe('StreamBatch', () => {
  it('sends the samples of a flush window together, with one progress message per open run', async () => {
    const sent: StreamMessage[][] = [];
    let progressCalls = 0;
    const batch = new StreamBatch({
      send: messages => sent.push(messages),
      progress: () => {
        progressCalls++;
        return [run];
      },
      intervalMs: 10,
      flushMs: 60,
    });
    for (let t = 0; t < 4; t++) batch.add(sample(t));
    expect(sent).toEqual([]);
    await new Promise(r => setTimeout(r, 120));
    expect(sent.map(kinds)).toEqual([['sample', 'sample', 'sample', 'sample', 'run:progress']]);
    expect(sent[0]!.filter(m => m.type === 'sample').map(m => (m as { sample: Sample }).sample.t)).toEqual([
      0, 1, 2, 3,
    ]);
    expect(progressCalls).toBe(1);
    batch.stop();
  });

  it('sends each tick at once when sampling is no faster than the flush window, and a flush empties it', () => {
    const sent: StreamMessage[][] = [];
    const slow = new StreamBatch({ send: m => sent.push(m), progress: () => [], intervalMs: 1000, flushMs: 500 });
    slow.add(sample(1));
    expect(sent.map(kinds)).toEqual([['sample']]);
    const fast = new StreamBatch({ send: m => sent.push(m), progress: () => [run], intervalMs: 100, flushMs: 500 });
    fast.add(sample(2));
    fast.flush();
    fast.flush(); // nothing pending: nothing sent
    expect(sent.map(kinds)).toEqual([['sample'], ['sample', 'run:progress']]);
    fast.stop();
  });
});
