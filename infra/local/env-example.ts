/**
 * Writes `.env.example` from the configuration module's variable table, so the
 * example always lists every variable with its default. `npm run env:example`
 * regenerates it; a test fails when it is out of date.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VARIABLES } from '../../shared/config.js';

export function renderEnvExample(): string {
  const lines = [
    '# Configuration of openai-status. Copy to .env (read by `npm start`; the environment wins over it).',
    '# Unset variables take the default shown. Generated from shared/config.ts: `npm run env:example`.',
    '',
  ];
  for (const variable of VARIABLES) {
    lines.push(`# ${variable.description}`);
    const value = variable.default ?? '';
    // Variables without a default stay commented out: an empty value would mean the same, but is easy to misread.
    lines.push(value === '' ? `# ${variable.name}=${value}` : `${variable.name}=${value}`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(resolve(fileURLToPath(import.meta.url), '../../../.env.example'), renderEnvExample());
}
