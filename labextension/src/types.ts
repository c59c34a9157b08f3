/**
 * Wire types of the sidecar API, read from the types generated from its OpenAPI document
 * (`generated/sidecar-api.ts`, written by `npm run contract -w sidecar`): a change of the
 * sidecar's schemas changes these, and the extension's type check says what it breaks.
 * Units are in the names.
 */
import type { components, paths } from './generated/sidecar-api';

export { COMPONENTS } from './generated/contract';

type Schemas = components['schemas'];
type Json<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type Answer<Path extends keyof paths, Method extends 'get' | 'post'> = paths[Path][Method] extends {
  responses: { 200: infer Ok };
}
  ? Json<Ok>
  : never;
type RequestBody<Path extends keyof paths> = paths[Path]['post'] extends { requestBody?: infer Body }
  ? Json<NonNullable<Body>>
  : never;

export type IRun = Schemas['Run'];
export type IEpoch = Schemas['Epoch'];
export type EnergyBreakdown = IRun['energy'];
export type Component = keyof EnergyBreakdown;
export type IComponentEnergy = EnergyBreakdown[Component];
export type Method = IComponentEnergy['method'];
export type TypeProcess = IRun['typeProcess'];
export type RunKind = IRun['kind'];
export type RunStatus = IRun['status'];
export type ILocation = IRun['location'];
/** One component's share attributed to the kernel, with its basis. */
export type IAttributedShare = NonNullable<NonNullable<IRun['attribution']>['components']>[Component];

export type ISourceInfo = Schemas['SourceInfo'];
export type IStatus = Schemas['Status'];
export type IDoctor = Answer<'/api/v1/doctor', 'get'>;
export type ISample = Schemas['Sample'];
export type StreamMessage = Schemas['StreamMessage'];
export type RunEvent = Extract<StreamMessage, { type: 'run' }>['event'];
export type IErrorResponse = Schemas['Error'];

// ---------------------------------------------------------------- PNAV outputs

export type IExportRequest = RequestBody<'/api/v1/exports'>;
export type ExportFormat = IExportRequest['format'];
export type IRunSelection = Pick<IExportRequest, 'runIds' | 'notebookPath'>;
export type IUploadRequest = RequestBody<'/api/v1/uploads'>;
/** One queued submission as the sidecar shows it: never the token. */
export type IUpload = Answer<'/api/v1/uploads', 'get'>['uploads'][number];
export type UploadStatus = IUpload['status'];
/** The calculadorapnav record (40 columns) of a selection of runs. */
export type PnavRecord = Answer<'/api/v1/records/preview', 'post'>['record'];
/** The record, its runs, the failed runs left out, and its location (country, its source, the factors). */
export type IRecordPreview = Answer<'/api/v1/records/preview', 'post'>;
