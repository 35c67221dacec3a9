/**
 * The backends that ship with snaphost, by the name a config's `use` gives them. Loaded
 * lazily: a config that does not use a backend never imports its code. A built-in name wins
 * over an npm package of the same name; use the package's path to load such a package.
 */
export const BUILTIN_BACKENDS: Record<string, () => Promise<unknown>> = {
  memory: () => import('../../backends/memory/index.js'),
  'overlayfs-native': () => import('../../backends/overlayfs-native/index.js'),
  'stargz-lazy': () => import('../../backends/stargz-lazy/index.js'),
};

export function isBuiltinBackend(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILTIN_BACKENDS, name);
}
