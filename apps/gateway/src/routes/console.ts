import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Clawd402Error } from '@clawd402/protocol';

/**
 * The operator console's policy: its own bundled script and stylesheet only, requests to this origin only. No inline
 * script or style, no frames, no form posts elsewhere, nothing from any other host (docs/console.md).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

interface Bundle {
  index: Buffer;
  /** `assets/<name>` → file; only what the build wrote is served (no path from the request reaches the disk). */
  assets: Map<string, { body: Buffer; type: string }>;
}

/** Where Vite writes the console (apps/console/dist), from this file in src/ and in the compiled dist/ alike. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

function loadBundle(dir: string): Bundle | null {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return null;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir))
    for (const name of readdirSync(assetDir)) {
      const type = TYPES[extname(name)];
      if (type) assets.set(`assets/${name}`, { body: readFileSync(join(assetDir, name)), type });
    }
  return { index: readFileSync(indexFile), assets };
}

/**
 * GET /console/*: the console's single page and its hashed assets, read from the build once and kept in memory. Every
 * path that is not an asset answers the page (the console routes in the browser), so a notification's link
 * `/console/approvals/<id>` opens the approval. Public: the page holds no data; every call it makes goes through the
 * admin API's session cookie, CSRF token and permissions. A missing build answers `console_not_built` and is looked
 * for again on the next request.
 */
const consoleRoutes = (options: { dir?: string } = {}): FastifyPluginAsync =>
  async function console(app) {
    const dir = options.dir ?? CONSOLE_DIST;
    let bundle: Bundle | null = null;
    const serve = (reply: FastifyReply, path: string) => {
      bundle ??= loadBundle(dir);
      if (!bundle) throw new Clawd402Error('console_not_built');
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('cross-origin-opener-policy', 'same-origin');
      reply.header('referrer-policy', 'no-referrer');
      const asset = bundle.assets.get(path);
      if (asset) {
        // Hashed names: a changed file has a new name, so browsers may keep these for a year.
        reply.header('cache-control', 'public, max-age=31536000, immutable');
        return reply.type(asset.type).send(asset.body);
      }
      if (path.startsWith('assets/')) throw new Clawd402Error('route_not_found');
      return reply.type('text/html; charset=utf-8').send(bundle.index);
    };
    app.get('/console', async (_request, reply) => serve(reply, ''));
    app.get<{ Params: { '*': string } }>('/console/*', async (request, reply) => serve(reply, request.params['*']));
  };
export default consoleRoutes;
