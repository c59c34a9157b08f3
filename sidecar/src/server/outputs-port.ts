/**
 * What the server needs from the PNAV outputs module (sidecar/src/pnav, issue 4): its router
 * (mounted under /api/v1), the CSV writer and the submission queue used by run close.
 */
import type { Router } from 'express';
import type { Run } from '../api/schemas.js';

export interface PnavOutputs {
  router: Router;
  writeCsv(
    run: Run,
    output: { dir: string; file?: string; onCsvWrite: 'append' | 'update' },
  ): Promise<{ path: string; epochsPath: string | null }>;
  enqueue(
    run: Run,
    submit: { endpointUrl: string; token: string; modelId: string; allowInsecureEndpoint?: boolean },
  ): Promise<{ id: string; status: string }>;
  start(): void;
  stop(): Promise<void>;
}
