#!/usr/bin/env node
/**
 * The `snaphost` executable (package.json `bin`): runs the command line (run-cli.ts) and
 * exits with its code.
 */
// First: refuses an unsupported Node.js before the rest is evaluated.
import '../runtime/require-node.js';
import { registerSdkResolution } from '../config/register-sdk-resolution.js';
import { runCli } from './run-cli.js';

registerSdkResolution();
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Safety net: exit even if a backend left a handle open (unref: does not keep us alive).
setTimeout(() => process.exit(code), 5000).unref();
