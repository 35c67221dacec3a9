import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  BackendContractError,
  BackendLoadError,
  BackendTimeoutError,
  ConfigError,
  type ErrorCode,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  SocketInUseError,
  UnavailableError,
} from '../../../../core/contract/errors.js';
import { MAX_STATUS_MESSAGE_BYTES, codeOfStatus, errorClassOf, errorFromStatus, normalizeError, statusOf, toServiceError } from '../../../../core/grpc/status.js';

describe('statusOf', () => {
  const table: Array<[ErrorCode, grpc.status]> = [
    ['NOT_FOUND', grpc.status.NOT_FOUND],
    ['ALREADY_EXISTS', grpc.status.ALREADY_EXISTS],
    ['FAILED_PRECONDITION', grpc.status.FAILED_PRECONDITION],
    ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
    ['UNAVAILABLE', grpc.status.UNAVAILABLE],
    ['NOT_IMPLEMENTED', grpc.status.UNIMPLEMENTED],
    ['INTERNAL', grpc.status.INTERNAL],
    ['CONFIG_INVALID', grpc.status.INTERNAL],
    ['BACKEND_LOAD', grpc.status.INTERNAL],
    ['BACKEND_CONTRACT', grpc.status.INTERNAL],
    ['BACKEND_TIMEOUT', grpc.status.INTERNAL],
    ['SOCKET_IN_USE', grpc.status.INTERNAL],
  ];
  it.each(table)('%s -> %s', (code, status) => expect(statusOf(code)).toBe(status));
  it('matches containerd errdefs numbers', () => {
    expect([statusOf('NOT_FOUND'), statusOf('ALREADY_EXISTS'), statusOf('FAILED_PRECONDITION'), statusOf('INVALID_ARGUMENT'), statusOf('UNAVAILABLE'), statusOf('NOT_IMPLEMENTED'), statusOf('INTERNAL')]).toEqual([5, 6, 9, 3, 14, 12, 13]);
  });
});

describe('normalizeError', () => {
  it('keeps snapshot errors as they are', () => {
    for (const e of [new NotFoundError('a'), new AlreadyExistsError('b'), new FailedPreconditionError('c'), new InvalidArgumentError('d'), new UnavailableError('e'), new NotImplementedError('f')]) {
      expect(normalizeError(e, 'mem', 'Stat')).toBe(e);
    }
  });

  it('wraps anything else in InternalError naming backend and method', () => {
    const cause = new TypeError('x is not a function');
    const e = normalizeError(cause, 'mem', 'Prepare');
    expect(e).toBeInstanceOf(InternalError);
    expect(e.message).toBe('mem.Prepare: x is not a function');
    expect(e.cause).toBe(cause);
    expect(normalizeError('str', 'mem', 'List').message).toBe('mem.List: str');
    expect(normalizeError({ weird: 1 }, 'mem', 'List').message).toBe('mem.List: {"weird":1}');
    expect(normalizeError(undefined, 'mem', 'List').message).toBe('mem.List: undefined');
  });

  it('wraps host errors thrown by a backend', () => {
    for (const e of [new ConfigError([{ path: 'a', message: 'b' }]), new BackendLoadError('x', 'y'), new BackendContractError('x', 'y'), new BackendTimeoutError('x', 'create', 5), new SocketInUseError('/s')]) {
      const n = normalizeError(e, 'mem', 'Stat');
      expect(n).toBeInstanceOf(InternalError);
      expect(n.cause).toBe(e);
    }
  });

  it('recognizes errors of another copy of snaphost by code', () => {
    const foreign = Object.assign(new Error('gone'), { code: 'NOT_FOUND' });
    expect(normalizeError(foreign, 'mem', 'Stat')).toBe(foreign);
    const nodeErr = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    expect(normalizeError(nodeErr, 'mem', 'Stat')).toBeInstanceOf(InternalError);
  });
});

describe('toServiceError', () => {
  it('carries the code and the message', () => {
    expect(toServiceError(new NotFoundError('snapshot k does not exist'))).toEqual({ code: grpc.status.NOT_FOUND, details: 'snapshot k does not exist' });
    expect(toServiceError(new InternalError('mem', 'Stat', new Error('boom')))).toEqual({ code: grpc.status.INTERNAL, details: 'mem.Stat: boom' });
  });

  it('caps the message at MAX_STATUS_MESSAGE_BYTES whatever built it, noting the full size', () => {
    const e = toServiceError(new NotFoundError(`snapshot ${'🚀'.repeat(30_000)} does not exist`));
    expect(Buffer.byteLength(e.details!)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(e.details).toMatch(/^snapshot (?:🚀)+…\(120024 bytes\)$/u);
  });
});

describe('the reverse direction (a client reading a status)', () => {
  const serviceError = (code: grpc.status, details: string): grpc.ServiceError =>
    Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() });

  it('every snapshot error class survives the round trip through its status', () => {
    for (const Class of [NotFoundError, AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, UnavailableError, NotImplementedError]) {
      const sent = toServiceError(new Class('why'));
      const wire = serviceError(sent.code!, sent.details!);
      const back = errorFromStatus(wire);
      expect(back).toBeInstanceOf(Class);
      expect(back.message).toBe('why');
      expect(back.cause).toBe(wire);
      expect(codeOfStatus(sent.code!)).toBe(new Class('').code);
      expect(errorClassOf(new Class('').code)).toBe(Class);
    }
  });

  it('any other status stays the grpc-js error', () => {
    for (const code of [grpc.status.INTERNAL, grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED, grpc.status.UNKNOWN, grpc.status.PERMISSION_DENIED]) {
      const wire = serviceError(code, 'x');
      expect(errorFromStatus(wire)).toBe(wire);
      expect(codeOfStatus(code)).toBeUndefined();
    }
    expect(errorClassOf('INTERNAL')).toBeUndefined();
    expect(errorClassOf('CONFIG_INVALID')).toBeUndefined();
  });
});
