import { defineConfig } from 'vite';

/**
 * The operator console, built once at install time (the root package's postinstall) into dist/, which the gateway
 * serves at /console under a strict CSP. Everything is bundled: no CDN, no inline script or style, no preload
 * polyfill injected into the page.
 */
export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
