/**
 * CPU TDP lookup in the project's table (sidecar/data/cpu-tdp.json, built from CodeCarbon's
 * cpu_power.csv by scripts/build-datasets.mjs).
 *
 * Matching, on normalised names (lower case; (R), (TM), ®, ™, `CPU`, `Processor`, `@ 2.30GHz`,
 * `16-Core` removed; spaces collapsed):
 * 1. exact: the normalised model string equals a normalised table name;
 * 2. token set: every token of a table name appears in the model string (as rapidfuzz's
 *    token_set_ratio = 100 that CodeCarbon uses, but one-directional), the table name has a token
 *    with a digit (a model number, so a bare "Intel Xeon" never matches), and the longest such name
 *    wins. Equally long names with different TDPs are ambiguous: no match, the default applies.
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../../util/package-files.js';

export interface TdpMatch {
  tdpW: number;
  matchedName: string;
  how: 'exact' | 'token-set';
}

interface TdpTableFile {
  defaultTdpW: number;
  defaultTdpSource: string;
  source: { repository: string; commit: string; file: string; licence: string };
  cpus: Record<string, number>;
}

interface Entry {
  name: string;
  normalised: string;
  tokens: string[];
  tdpW: number;
}

export function normaliseCpuName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\((r|tm|c)\)|®|™/g, ' ')
    .replace(/@\s*[\d.]+\s*[gm]hz/g, ' ')
    .replace(/\b[\d.]+\s*[gm]hz\b/g, ' ')
    .replace(/\b\d+-core\b/g, ' ')
    .replace(/\b(cpu|processor)\b/g, ' ')
    .replace(/[,]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export class TdpTable {
  private readonly entries: Entry[];
  private readonly byNormalised = new Map<string, Entry>();
  readonly defaultTdpW: number;
  readonly defaultTdpSource: string;
  readonly sourceLabel: string;

  constructor(file: TdpTableFile) {
    this.defaultTdpW = file.defaultTdpW;
    this.defaultTdpSource = file.defaultTdpSource;
    this.sourceLabel = `${file.source.file} @ ${file.source.commit.slice(0, 7)} (${file.source.licence})`;
    this.entries = Object.entries(file.cpus).map(([name, tdpW]) => {
      const normalised = normaliseCpuName(name);
      return { name, normalised, tokens: normalised.split(' ').filter(Boolean), tdpW };
    });
    for (const e of this.entries) if (!this.byNormalised.has(e.normalised)) this.byNormalised.set(e.normalised, e);
  }

  get size(): number {
    return this.entries.length;
  }

  match(cpuModel: string): TdpMatch | null {
    const normalised = normaliseCpuName(cpuModel);
    if (!normalised) return null;
    const exact = this.byNormalised.get(normalised);
    if (exact) return { tdpW: exact.tdpW, matchedName: exact.name, how: 'exact' };
    const modelTokens = new Set(normalised.split(' '));
    let best: Entry[] = [];
    for (const e of this.entries) {
      if (!e.tokens.some(t => /\d/.test(t))) continue;
      if (!e.tokens.every(t => modelTokens.has(t))) continue;
      if (best.length === 0 || e.tokens.length > best[0]!.tokens.length) best = [e];
      else if (e.tokens.length === best[0]!.tokens.length) best.push(e);
    }
    if (best.length === 0) return null;
    if (new Set(best.map(e => e.tdpW)).size > 1) return null;
    return { tdpW: best[0]!.tdpW, matchedName: best[0]!.name, how: 'token-set' };
  }
}

// Weakly held: the table (~2 MB of heap) is needed at the start-up probe and by `doctor`, not in
// between, so a long-running sidecar lets it be collected and reads it again if asked.
let table: WeakRef<TdpTable> | undefined;

export function tdpTable(): TdpTable {
  let t = table?.deref();
  if (!t) {
    t = new TdpTable(JSON.parse(readFileSync(packageFile('data/cpu-tdp.json'), 'utf8')) as TdpTableFile);
    table = new WeakRef(t);
  }
  return t;
}
