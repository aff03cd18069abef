/**
 * The app's version (package.json's `version`; version.test.ts keeps them
 * equal). A constant, not `import pkg from '../package.json'`: that import puts
 * the whole package.json (~2 KB of dependency lists) into every bundle using it.
 */
export const APP_VERSION = '0.1.0';
