/**
 * Hard links of a layer's tree, resolved once the entries are in (`TreeBuilder.links`): each
 * becomes another name of the node it finally points at.
 */
import { DIR, quote, ROOT, type TreeBuilder } from './tree-builder.js';

// States of a hard link while resolving (else: the node it resolved to).
const UNRESOLVED = -1;
const RESOLVING = -2;
/** `walk` answers `LINK_BASE - i` for hard link `i`. */
const LINK_BASE = -3;

/**
 * Hard links may point at files or at other hard links, in any order; cycles and dangling
 * targets are refused. A target path is looked up in the finished tree, where the last hard
 * link of a name replaces any other entry of that name: a name that is a link resolves
 * through that link. Each link is resolved once (memoised), chains with an explicit stack.
 */
export function resolveHardlinks(b: TreeBuilder): void {
  const links = b.links;
  const resolved = new Int32Array(links.length).fill(UNRESOLVED);
  const stack: number[] = [];
  for (let first = 0; first < links.length; first++) {
    if (resolved[first] !== UNRESOLVED) continue;
    stack.push(first);
    resolved[first] = RESOLVING;
    while (stack.length > 0) {
      const i = stack[stack.length - 1]!;
      const link = links[i]!;
      const found = walk(b, link.target);
      let node = found;
      if (found <= LINK_BASE) {
        const j = LINK_BASE - found;
        node = resolved[j]!;
        if (node === RESOLVING) throw b.bad(link.index, `hardlink cycle through ${quote(link.target)}`);
        if (node === UNRESOLVED) {
          resolved[j] = RESOLVING;
          stack.push(j);
          continue;
        }
      } else if (node < 0) {
        throw b.bad(link.index, `hardlink target ${quote(link.target)} does not exist`);
      } else if (b.type[node] === DIR) {
        throw b.bad(link.index, `hardlink to directory ${quote(link.target)}`);
      }
      resolved[i] = node;
      stack.pop();
    }
  }
  // The last link of each name takes its place (in TOC order: the others are replaced).
  for (const [dir, names] of b.linkAt) {
    const children = b.children[dir]!;
    for (const [base, i] of names) children.set(base, resolved[i]!);
  }
}

/**
 * The node at clean `path` in the finished tree: a node, -1 when there is none, or
 * `LINK_BASE - i` when the name is hard link `i` (a link is never a directory, so a path
 * through one leads nowhere).
 */
function walk(b: TreeBuilder, path: string): number {
  if (path === '') return ROOT;
  let node = ROOT;
  let start = 0;
  for (;;) {
    const slash = path.indexOf('/', start);
    const base = slash < 0 ? path.slice(start) : path.slice(start, slash);
    const link = b.linkAt.get(node)?.get(base);
    if (link !== undefined) return slash < 0 ? LINK_BASE - link : -1;
    const next = b.children[node]?.get(base);
    if (next === undefined) return -1;
    if (slash < 0) return next;
    node = next;
    start = slash + 1;
  }
}
