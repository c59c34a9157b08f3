/**
 * IOPub messages → nbformat 4 outputs, the way JupyterLab's output area builds them:
 * consecutive streams of one name merge, `clear_output` (with `wait`) empties the list,
 * `update_display_data` rewrites the outputs that share its display id.
 */
import type { KernelMessage } from '@jupyterlab/services';

export type NbOutput =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | {
      output_type: 'execute_result';
      data: Record<string, unknown>;
      metadata: Record<string, unknown>;
      execution_count: number | null;
    }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export class OutputCollector {
  readonly outputs: NbOutput[] = [];
  private clearOnNextOutput = false;
  private readonly displayIds = new Map<string, number[]>();

  private push(output: NbOutput, displayId?: string) {
    if (this.clearOnNextOutput) {
      this.clear();
      this.clearOnNextOutput = false;
    }
    const last = this.outputs.at(-1);
    if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
      last.text += output.text;
      return;
    }
    this.outputs.push(output);
    if (displayId) this.displayIds.set(displayId, [...(this.displayIds.get(displayId) ?? []), this.outputs.length - 1]);
  }

  private clear() {
    this.outputs.length = 0;
    this.displayIds.clear();
  }

  handle(msg: KernelMessage.IIOPubMessage) {
    const content = msg.content as Record<string, unknown>;
    const displayId = (content.transient as { display_id?: string } | undefined)?.display_id;
    const data = (content.data ?? {}) as Record<string, unknown>;
    const metadata = (content.metadata ?? {}) as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case 'stream':
        this.push({
          output_type: 'stream',
          name: content.name === 'stderr' ? 'stderr' : 'stdout',
          text: String(content.text ?? ''),
        });
        break;
      case 'display_data':
        this.push({ output_type: 'display_data', data, metadata }, displayId);
        break;
      case 'execute_result':
        this.push(
          {
            output_type: 'execute_result',
            data,
            metadata,
            execution_count: (content.execution_count as number) ?? null,
          },
          displayId,
        );
        break;
      case 'error':
        this.push({
          output_type: 'error',
          ename: String(content.ename ?? ''),
          evalue: String(content.evalue ?? ''),
          traceback: (content.traceback as string[] | undefined) ?? [],
        });
        break;
      case 'update_display_data':
        for (const index of (displayId && this.displayIds.get(displayId)) || []) {
          const output = this.outputs[index];
          if (output && output.output_type !== 'stream' && output.output_type !== 'error') {
            output.data = data;
            output.metadata = metadata;
          }
        }
        break;
      case 'clear_output':
        if (content.wait) this.clearOnNextOutput = true;
        else this.clear();
        break;
      default:
        break;
    }
  }
}
