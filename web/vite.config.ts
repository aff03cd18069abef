/**
 * The dashboard build: Preact through Oxc's automatic JSX runtime (no plugin
 * needed), in web/dist: the shell and Status tab, uPlot, and a chunk per other
 * tab (dynamic imports in app.tsx and TimeChart.tsx). `npx vite web` serves it with the API
 * proxied to a running local stack (`npm start`, port 3000).
 */
import { defineConfig } from 'vite';

const API = 'http://127.0.0.1:3000';
const API_PATHS = [
  '/health',
  '/status',
  '/timeseries',
  '/latency_histogram',
  '/config',
  '/traces',
  '/incidents',
];

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: Object.fromEntries(API_PATHS.map((path) => [path, API])) },
});
