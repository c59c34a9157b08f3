/**
 * PNAV outputs through the sidecar: exports downloaded by the
 * browser, record previews and uploads. The token goes in one request body
 * and is kept nowhere else.
 */
import type { ServerConnection } from '@jupyterlab/services';
import { defaultExportName, filenameFromDisposition } from './filename';
import { fetchAPI, postAPI, requestAPI } from './request';
import type {
  ExportFormat,
  IExportRequest,
  IRecordPreview,
  IRunSelection,
  IUpload,
  IUploadRequest,
  TypeProcess,
} from './types';

/** Asks the sidecar for the file and hands it to the browser as a download; returns the file name. */
export async function downloadExport(request: IExportRequest, settings: ServerConnection.ISettings): Promise<string> {
  const response = await fetchAPI('exports', { method: 'POST', body: JSON.stringify(request) }, settings);
  const blob = await response.blob();
  const name =
    filenameFromDisposition(response.headers.get('Content-Disposition')) ??
    defaultExportName(request.format as ExportFormat, request.notebookPath ?? null);
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  anchor.style.display = 'none';
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  // Revoke later: some browsers read the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

export function previewRecord(
  selection: IRunSelection,
  typeProcess: TypeProcess,
  settings: ServerConnection.ISettings,
  recordFailed = false,
): Promise<IRecordPreview> {
  return postAPI<IRecordPreview>('records/preview', { ...selection, typeProcess, recordFailed }, settings);
}

/** The upload once it has its first outcome (delivered, rejected, retrying, uncertain), waiting up to waitMs. */
export async function uploadOutcome(
  id: string,
  settings: ServerConnection.ISettings,
  waitMs = 12_000,
): Promise<IUpload> {
  const { upload } = await requestAPI<{ upload: IUpload }>(
    `uploads/${encodeURIComponent(id)}?waitMs=${waitMs}`,
    {},
    settings,
  );
  return upload;
}

export async function createUploads(request: IUploadRequest, settings: ServerConnection.ISettings): Promise<IUpload[]> {
  const { uploads } = await postAPI<{ uploads: IUpload[] }>('uploads', request, settings);
  return uploads;
}

export async function listUploads(
  notebookPath: string | null,
  settings: ServerConnection.ISettings,
): Promise<IUpload[]> {
  const query = notebookPath ? `?notebookPath=${encodeURIComponent(notebookPath)}` : '';
  const { uploads } = await requestAPI<{ uploads: IUpload[] }>(`uploads${query}`, {}, settings);
  return uploads;
}
