/**
 * Module resolve hook (registered by `register-sdk-resolution.ts`): when `import … from
 * 'snaphost'` (or `'snaphost/overlay'`) cannot be resolved the normal way, because the config or a backend file lives
 * outside any directory where snaphost is installed (`/etc/snaphost/plugins.config.ts` with a
 * global install), it resolves to that entry of the snaphost that is running.
 */
interface ResolveContext {
  parentURL?: string;
  conditions: string[];
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

/** The package's entries (`snaphost`, `snaphost/overlay`) -> the running snaphost's module URLs. */
let entries: Readonly<Record<string, string>> = {};

export function initialize(data: { entries: Record<string, string> }): void {
  entries = data.entries;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const url = Object.hasOwn(entries, specifier) ? entries[specifier] : undefined;
    if (url !== undefined && (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      return { url, format: 'module', shortCircuit: true };
    }
    throw err;
  }
}
