/**
 * Extra overlayfs mount options a user may configure (containerd's overlay `mount_options`).
 * snaphost builds `lowerdir=`, `upperdir=` and `workdir=` itself, and containerd passes the
 * options to mount(2) joined by commas, so an option can neither set those nor contain a comma.
 */

const RESERVED = ['lowerdir', 'upperdir', 'workdir'] as const;

/** Why `option` cannot be used as an extra overlay mount option, or undefined when it can. */
export function overlayMountOptionProblem(option: unknown): string | undefined {
  if (typeof option !== 'string') return `expected a string, got ${typeof option}`;
  if (option.trim() === '') return 'must not be empty';
  if (option !== option.trim()) return `${JSON.stringify(option)} has leading or trailing spaces`;
  if (option.includes(',')) return `${JSON.stringify(option)} contains a comma; give each option as its own array element`;
  if (/[\0\n]/.test(option)) return `${JSON.stringify(option)} contains a NUL or newline`;
  const name = option.split('=', 1)[0]!;
  if ((RESERVED as readonly string[]).includes(name)) return `${JSON.stringify(option)}: ${name}= is set by snaphost for each snapshot`;
  return undefined;
}

/** Throw when any of `options` cannot be used (see overlayMountOptionProblem). */
export function checkOverlayMountOptions(options: readonly unknown[]): void {
  options.forEach((o, i) => {
    const problem = overlayMountOptionProblem(o);
    if (problem) throw new TypeError(`overlay mount option [${i}]: ${problem}`);
  });
}

/** True when `options` set overlay option `name` (as `name` or `name=value`). */
export function hasMountOption(options: readonly string[], name: string): boolean {
  return options.some((o) => o === name || o.startsWith(`${name}=`));
}
