/** Types of lab-harness.mjs, for the e2e test (the benchmark imports the .mjs directly). */
import type { BrowserContext, Page } from 'playwright-core';

export const ROOT: string;
export const VENV_BIN: string;
export const CHROMIUM: string;
export const SIDECAR_CLI: string;
export const CHROMIUM_ARGS: string[];

export function missingPrerequisite(): string | null;
export function freePort(): Promise<number>;
export function fakeRapl(
  dir: string,
  watts?: { packageW?: number; dramW?: number; intervalMs?: number },
): { sysfsRoot: string; stop(): void };

export interface Lab {
  url: string;
  token: string;
  dirs: Record<'root' | 'runtime' | 'pnav-data' | 'jupyter-config' | 'jupyter-data' | 'ipython' | 'workspaces', string>;
  output(): string;
  stop(): Promise<void>;
}

export function startLab(options?: {
  notebooks?: Record<string, unknown>;
  sampleIntervalMs?: number;
  log?: boolean;
}): Promise<Lab>;

export interface MockPnav {
  url: string;
  received(): Promise<unknown>;
  control(body: {
    failNext?: number;
    status?: number;
    retryAfterS?: number;
    delayMs?: number;
    reset?: boolean;
  }): Promise<unknown>;
  stop(): Promise<void>;
}

export function startMockPnav(options?: { token?: string }): Promise<MockPnav>;
export function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }>;
export function openNotebook(context: BrowserContext, lab: Lab, path: string): Promise<Page>;
export function notebook(cells: string[]): Record<string, unknown>;
