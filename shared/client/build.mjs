/**
 * Builds the package: ESM and CommonJS JavaScript with type declarations, from
 * the same sources. `npm pack` runs it (prepack). TypeScript comes from the
 * repository's install (npm puts every parent's node_modules/.bin on PATH).
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
rmSync(`${here}/dist`, { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json']) {
  try {
    execFileSync('tsc', ['-p', project], {
      cwd: here,
      stdio: 'inherit',
      shell: process.platform === 'win32',
    });
  } catch {
    // tsc has printed the errors.
    console.error(`build failed: tsc -p ${project}`);
    process.exit(1);
  }
}
// This package is "type": "module": the CommonJS folder says otherwise for its .js and .d.ts files.
writeFileSync(`${here}/dist/cjs/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);
