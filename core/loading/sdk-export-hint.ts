/**
 * What to change when a backend module imports a name the SDK no longer exports where it
 * looks (Node: `SyntaxError: The requested module 'snaphost' does not provide an export named
 * 'LmdbMetaStore'`). Backend API version 2 moved the overlay building blocks from 'snaphost' to
 * 'snaphost/overlay' and replaced the `OverlaySnapshotter` class with `createOverlaySnapshotter`;
 * a version 1 module that uses them fails at import, and this says exactly what to edit.
 */

const MISSING_EXPORT = /^The requested module '(snaphost(?:\/overlay)?)' does not provide an export named '([^']+)'/;

/** The hint for `err`, or undefined when it is not a missing SDK export. */
export async function sdkExportHint(err: unknown): Promise<string | undefined> {
  if (!(err instanceof SyntaxError)) return undefined;
  const m = MISSING_EXPORT.exec(err.message);
  if (!m) return undefined;
  const [, from, name] = m as unknown as [string, string, string];
  const guide = 'see "Changes in apiVersion 2" in docs/writing-a-backend.md';
  if (name === 'OverlaySnapshotter') {
    return (
      "backend API version 2 has no OverlaySnapshotter class to extend: build the snapshotter with createOverlaySnapshotter({ store, dir, log, layers?, beforeWrite? }) " +
      `from 'snaphost/overlay' and spread it ({ ...overlay, status, close }), checks that act on the store go in beforeWrite; then declare apiVersion: 2 (${guide})`
    );
  }
  if (from === 'snaphost') {
    // Loaded only on this failure path: the overlay entry loads the stores.
    const overlay: Record<string, unknown> = await import('../sdk-overlay.js');
    if (name in overlay) {
      return `since backend API version 2, ${name} comes from 'snaphost/overlay': import { ${name} } from 'snaphost/overlay' (${guide})`;
    }
  }
  return `${from} does not export ${name} (${guide})`;
}
