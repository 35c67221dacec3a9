/** The root logger's second line of defence: secret keys are censored wherever a caller puts them. */
import { Writable } from 'node:stream';
import type pino from 'pino';
import { expect, it } from 'vitest';
import { createLogger } from '../../../core/logger.js';

it('censors passwords and tokens at the top level and one level down', () => {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'info', pretty: false, destination: dest as unknown as pino.DestinationStream });
  log.info({ password: 'P1-secret', credentials: { identityToken: 'T1-secret', registryToken: 'T2-secret' }, auth: { password: 'P2-secret' }, headers: { authorization: 'Bearer T3-secret' } }, 'x');
  log.child({ component: 'c' }).info({ change: { auth: 'A1-secret' } }, 'y');
  const text = lines.join('');
  expect(text).toContain('[redacted]');
  expect(text).not.toMatch(/-secret/);
});
