/**
 * TLS material of a registry host from the options (`ca`, `certFile`, `keyFile`): read once at
 * start and checked (each CA file holds at least one valid PEM certificate; the client
 * certificate and key parse and belong together), so a wrong path or file is an error when the
 * process starts, naming the option, not a handshake failure at the first pull.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, rootCertificates } from 'node:tls';
import { InvalidArgumentError } from '../../../core/sdk.js';
import type { HostOptions } from './options.js';

/** Options for `tls.connect`: the system CAs plus the host's own, and a client certificate. */
export interface TlsMaterial {
  ca?: string[];
  cert?: string;
  key?: string;
  /** false: the server's certificate is not verified (hosts.toml `skip_verify`). */
  rejectUnauthorized?: boolean;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The host's TLS options, undefined when it sets none. `where` is its option path (`registry.hosts["x"]`). */
export function loadHostTls(settings: Pick<HostOptions, 'ca' | 'certFile' | 'keyFile'>, where: string): TlsMaterial | undefined {
  const material: TlsMaterial = {};
  if (settings.ca.length > 0) {
    const extra = settings.ca.flatMap((file, i) => caCertificates(file, `${where}.ca[${i}]`));
    material.ca = [...rootCertificates, ...extra];
  }
  if (settings.certFile !== undefined && settings.keyFile !== undefined) {
    const cert = readPem(settings.certFile, `${where}.certFile`);
    const key = readPem(settings.keyFile, `${where}.keyFile`);
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      throw new InvalidArgumentError(
        `${where}: client certificate ${settings.certFile} and key ${settings.keyFile} are not usable together: ${(err as Error).message}`,
      );
    }
    material.cert = cert;
    material.key = key;
  }
  return material.ca || material.cert ? material : undefined;
}

function caCertificates(file: string, where: string): string[] {
  const pems = readPem(file, where).match(PEM_CERT) ?? [];
  if (pems.length === 0) throw new InvalidArgumentError(`${where}: ${file} holds no PEM certificate`);
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new InvalidArgumentError(`${where}: ${file} holds an invalid certificate: ${(err as Error).message}`);
    }
  }
  return pems;
}

function readPem(file: string, where: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`${where}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
