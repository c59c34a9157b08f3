/**
 * The routes an express app serves, read from express's own routing table (router 2.x layers),
 * as OpenAPI-style paths (`/api/v1/runs/{id}`). openapi.test.ts compares them with the description.
 */
import type express from 'express';

export interface ServedRoute {
  method: string;
  /** OpenAPI path template: `:id` becomes `{id}`. */
  path: string;
}

interface Layer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

export function listRoutes(app: express.Express): ServedRoute[] {
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  const out: ServedRoute[] = [];
  walk(router.stack, '', out);
  return out;
}

function walk(stack: Layer[], prefix: string, out: ServedRoute[]): void {
  for (const layer of stack) {
    if (layer.route) {
      if (typeof layer.route.path !== 'string') continue;
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') out.push({ method, path: toTemplate(prefix + layer.route.path) });
      }
    } else if (layer.handle.stack) {
      // A mounted router: its mount path is the layer's own path ('/' when mounted at the root).
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      walk(layer.handle.stack, prefix + mount, out);
    }
  }
}

function toTemplate(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}
