/**
 * Module resolve hook (registered by `register-sdk-resolution.ts`): when `import … from
 * 'snaphost'` cannot be resolved the normal way, because the config or a backend file lives
 * outside any directory where snaphost is installed (`/etc/snaphost/plugins.config.ts` with a
 * global install), it resolves to the SDK of the snaphost that is running.
 */
interface ResolveContext {
  parentURL?: string;
  conditions: string[];
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

let sdkUrl: string | undefined;

export function initialize(data: { sdkUrl: string }): void {
  sdkUrl = data.sdkUrl;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (specifier === 'snaphost' && sdkUrl && (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      return { url: sdkUrl, format: 'module', shortCircuit: true };
    }
    throw err;
  }
}
