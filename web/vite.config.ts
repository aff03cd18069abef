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
    rolldownOptions: {
      output: {
        // Preact in a file of its own, fetched beside the app's: two halves arrive sooner on a slow
        // link than one file twice their size (each connection's window grows in parallel).
        codeSplitting: { groups: [{ name: 'preact', test: /[\\/]node_modules[\\/]preact[\\/]/ }] },
      },
    },
  },
  server: { proxy: Object.fromEntries(API_PATHS.map((path) => [path, API])) },
});
