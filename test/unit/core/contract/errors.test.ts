import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  BackendContractError,
  BackendLoadError,
  BackendTimeoutError,
  ConfigError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  SnaphostError,
  SocketInUseError,
  UnavailableError,
  describe as describeError,
  isSnaphostError,
} from '../../../../core/contract/errors.js';

describe('error classes', () => {
  it.each([
    [new NotFoundError('m'), 'NOT_FOUND', 'NotFoundError'],
    [new AlreadyExistsError('m'), 'ALREADY_EXISTS', 'AlreadyExistsError'],
    [new FailedPreconditionError('m'), 'FAILED_PRECONDITION', 'FailedPreconditionError'],
    [new InvalidArgumentError('m'), 'INVALID_ARGUMENT', 'InvalidArgumentError'],
    [new UnavailableError('m'), 'UNAVAILABLE', 'UnavailableError'],
    [new NotImplementedError('m'), 'NOT_IMPLEMENTED', 'NotImplementedError'],
  ] as const)('%s has a stable code and name', (err, code, name) => {
    expect(err).toBeInstanceOf(SnaphostError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.name).toBe(name);
    expect(err.message).toBe('m');
    expect(isSnaphostError(err)).toBe(true);
  });

  it('keep the cause', () => {
    const cause = new Error('root');
    expect(new NotFoundError('m', { cause }).cause).toBe(cause);
  });

  it('InternalError names backend and method and keeps the cause', () => {
    const cause = new TypeError('boom');
    const e = new InternalError('memory', 'Prepare', cause);
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toBe('memory.Prepare: boom');
    expect(e.backend).toBe('memory');
    expect(e.method).toBe('Prepare');
    expect(e.cause).toBe(cause);
  });

  it('ConfigError lists every issue with its path', () => {
    const e = new ConfigError([{ path: 'backends[1].options.size', message: 'expected string' }, { path: '', message: 'bad file' }], '/etc/x.ts');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe('invalid config /etc/x.ts:\n  backends[1].options.size: expected string\n  (root): bad file');
    expect(e.issues).toHaveLength(2);
  });

  it('host errors name the backend or socket', () => {
    expect(new BackendLoadError('b', 'cannot import').message).toBe('backend "b": cannot import');
    expect(new BackendLoadError('b', 'x').code).toBe('BACKEND_LOAD');
    expect(new BackendContractError('b', 'missing stat()').code).toBe('BACKEND_CONTRACT');
    const t = new BackendTimeoutError('b', 'create', 30000);
    expect(t.code).toBe('BACKEND_TIMEOUT');
    expect(t.message).toBe('backend "b": create() did not finish within 30000 ms');
    const s = new SocketInUseError('/run/snaphost/m.sock');
    expect(s.code).toBe('SOCKET_IN_USE');
    expect(s.message).toContain('/run/snaphost/m.sock');
  });
});

describe('isSnaphostError', () => {
  it('recognizes errors of another copy of the package by code', () => {
    expect(isSnaphostError(Object.assign(new Error('x'), { code: 'NOT_FOUND' }))).toBe(true);
  });
  it('rejects other errors and non-errors', () => {
    expect(isSnaphostError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isSnaphostError({ code: 'NOT_FOUND', message: 'x' })).toBe(false);
    expect(isSnaphostError(new Error('x'))).toBe(false);
    expect(isSnaphostError('NOT_FOUND')).toBe(false);
    expect(isSnaphostError(null)).toBe(false);
  });
});

describe('describe', () => {
  it('gives one line for anything thrown', () => {
    expect(describeError(new Error('msg'))).toBe('msg');
    expect(describeError(new TypeError(''))).toBe('TypeError');
    expect(describeError('s')).toBe('s');
    expect(describeError({ a: 1 })).toBe('{"a":1}');
    expect(describeError(undefined)).toBe('undefined');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeError(cyclic)).toBe('[object Object]');
    expect(describeError(10n)).toBe('10');
  });
});
