/**
 * The connection keeper's process: `node keeper/main.js <command of the FUSE-serving process…>`
 * (keeper.ts). Started by the spawner in place of the FUSE-serving process when layers are
 * served with fs.transport "kernel", detached as that process was; logs JSON lines to stderr
 * (the same log file). Exit status: the served process's last one (2: usage).
 */
import pino from 'pino';
import { loadFuseDevice } from '../fuse-device.js';
import { Keeper } from './keeper.js';

const command = process.argv.slice(2);
if (command.length === 0) {
  process.stderr.write('usage: keeper/main.js <command of the FUSE-serving process> [args...]\n');
  process.exit(2);
}
const log = pino(
  { base: { pid: process.pid, component: 'fuse-keeper' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
  pino.destination({ fd: 2, sync: true }),
);
let device;
try {
  device = loadFuseDevice();
} catch (err) {
  log.error({ err }, 'the keeper needs the kernel FUSE addon');
  process.exit(2);
}
const keeper = new Keeper({ command, device, log });
process.on('SIGTERM', () => keeper.stop('SIGTERM'));
process.on('SIGINT', () => keeper.stop('SIGINT'));
process.on('SIGHUP', () => undefined);
keeper.start();
log.info({ child: keeper.childPid }, 'keeper started');
process.exitCode = await keeper.done;
