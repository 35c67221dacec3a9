/**
 * Imported first by the CLI, so that an unsupported Node.js is refused with one clear line
 * before anything else of snaphost is evaluated.
 */
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`snaphost: ${problem}\n`);
  process.exit(1);
}
