/**
 * Bundles a function with esbuild's JavaScript API, code-split: `index.mjs`
 * holds the handler and what it imports statically (what Lambda loads at
 * init); every `await import()` (the openai SDK, the S3 client, the OTLP
 * decoder, ...) becomes a chunk of its own, loaded on first use. NodejsFunction
 * cannot do this: it always passes `--outfile`, and esbuild splits only into
 * an `outdir`. The asset is built in the CDK process itself (`local`
 * bundling), so `cdk synth` needs no Docker.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AssetHashType, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { type BuildOptions, buildSync } from 'esbuild';

/** The file Lambda loads: `index.handler`. */
export const ENTRY_FILE = 'index.mjs';
/** esbuild's metafile beside the bundle (bench/bundles.ts and the stack test read it). */
export const METAFILE = 'index.meta.json';

/** Lets bundled CommonJS dependencies `require` Node built-ins from the ESM chunks. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export interface SplitBundleProps {
  /** The handler's source file. */
  readonly entry: string;
  /** Where `node_modules` and package-lock.json are: esbuild resolves from here, metafile paths are relative to it. */
  readonly projectRoot: string;
  /** Packages and modules left out of the bundle (never loaded in Lambda, or shipped by `nodeModules`). */
  readonly externals: readonly string[];
  /** Packages installed with npm next to the bundle instead of bundled (their versions from package-lock.json). */
  readonly nodeModules?: readonly string[];
}

/** The esbuild options of every function (bench/bundles.ts measures the bundles they make). */
export function esbuildOptions(props: SplitBundleProps, outdir: string): BuildOptions {
  return {
    entryPoints: { index: props.entry },
    absWorkingDir: props.projectRoot,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    sourcemap: true,
    // Stack traces need names and lines, not the sources: keeps the .map files small.
    sourcesContent: false,
    metafile: true,
    external: [...props.externals, ...(props.nodeModules ?? [])],
    // Sizes are printed by bench/bundles.ts; synth shows only warnings.
    logLevel: 'warning',
  };
}

/**
 * The `local` bundler of the asset. Its fields are part of CDK's asset cache
 * key (the key is a JSON of the bundling options), so two functions never
 * share a bundle.
 */
class SplitBundler implements ILocalBundling {
  constructor(readonly props: SplitBundleProps) {}

  tryBundle(outputDir: string): boolean {
    const result = buildSync(esbuildOptions(this.props, outputDir));
    writeFileSync(join(outputDir, METAFILE), JSON.stringify(result.metafile));
    if (this.props.nodeModules?.length) installNodeModules(this.props, outputDir);
    return true;
  }
}

/** As NodejsFunction's `nodeModules` does: a package.json of these packages, the project's lock file, `npm ci`. */
function installNodeModules(props: SplitBundleProps, outputDir: string): void {
  const pkg = JSON.parse(readFileSync(join(props.projectRoot, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const dependencies: Record<string, string> = {};
  for (const name of props.nodeModules ?? []) {
    const version = pkg.dependencies?.[name];
    if (!version) throw new Error(`nodeModules: ${name} is not a dependency in package.json`);
    dependencies[name] = version;
  }
  writeFileSync(join(outputDir, 'package.json'), JSON.stringify({ dependencies }));
  copyFileSync(join(props.projectRoot, 'package-lock.json'), join(outputDir, 'package-lock.json'));
  const npm = spawnSync('npm', ['ci', '--loglevel', 'warn'], { cwd: outputDir, stdio: 'inherit' });
  if (npm.status !== 0) throw new Error(`npm ci in ${outputDir} failed (${npm.status ?? npm.signal})`);
}

/** The function's code: bundled in-process at synth, hashed by its output. */
export function splitBundleCode(props: SplitBundleProps): Code {
  return Code.fromAsset(props.projectRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      local: new SplitBundler(props),
      // Required by the API; never pulled: the local bundler always succeeds
      // (esbuild is a dev dependency of the project that runs the CDK app).
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
    },
  });
}

interface Metafile {
  outputs: Record<
    string,
    {
      bytes: number;
      entryPoint?: string;
      imports: { path: string; kind: string; external?: boolean }[];
      inputs: Record<string, { bytesInOutput: number }>;
    }
  >;
}

export interface BundleOutput {
  /** File name in the asset folder. */
  file: string;
  bytes: number;
  /** Loaded at init: the entry, or a chunk it imports statically (directly or not). */
  atInit: boolean;
  /** Bytes in this file by source file (node_modules paths name their package). */
  inputs: Record<string, number>;
}

/**
 * The JavaScript files of a bundled function from its metafile, each marked
 * by whether Lambda loads it at init (the entry and its static imports) or
 * only when an `await import()` first runs.
 */
export function bundleOutputs(assetDir: string): BundleOutput[] {
  const meta = JSON.parse(readFileSync(join(assetDir, METAFILE), 'utf8')) as Metafile;
  const js = Object.entries(meta.outputs).filter(([path]) => path.endsWith('.mjs'));
  // By name: esbuild marks every dynamically imported module's chunk as an entry point too.
  const entry = js.find(([path]) => basename(path) === ENTRY_FILE)?.[0];
  if (!entry) throw new Error(`${assetDir}: no entry point in ${METAFILE}`);
  const atInit = new Set<string>();
  const visit = (path: string) => {
    if (atInit.has(path)) return;
    atInit.add(path);
    for (const imported of meta.outputs[path]?.imports ?? []) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(entry);
  return js.map(([path, output]) => ({
    file: basename(path),
    bytes: output.bytes,
    atInit: atInit.has(path),
    inputs: Object.fromEntries(
      Object.entries(output.inputs).map(([i, { bytesInOutput }]) => [i, bytesInOutput]),
    ),
  }));
}

/** Bytes Lambda loads at init, and of all the function's JavaScript. */
export function bundleBytes(assetDir: string): { atInit: number; total: number } {
  const outputs = bundleOutputs(assetDir);
  const sum = (list: BundleOutput[]) => list.reduce((total, o) => total + o.bytes, 0);
  return { atInit: sum(outputs.filter((o) => o.atInit)), total: sum(outputs) };
}
