/**
 * Lets config files and backend files import `snaphost` wherever they are (see
 * `sdk-resolve-hook.ts`). Only for the built CLI: under a TypeScript test runner there is no
 * compiled SDK to point at, and files resolve through the package self-reference anyway.
 */
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

let registered = false;

export function registerSdkResolution(): void {
  const entries = {
    snaphost: new URL('../sdk.js', import.meta.url).href,
    'snaphost/overlay': new URL('../sdk-overlay.js', import.meta.url).href,
    'snaphost/testing': new URL('../sdk-testing.js', import.meta.url).href,
  };
  const hook = new URL('./sdk-resolve-hook.js', import.meta.url);
  if (registered || !Object.values(entries).every((u) => existsSync(fileURLToPath(u))) || !existsSync(fileURLToPath(hook))) return;
  register(hook.href, { data: { entries } });
  registered = true;
}
