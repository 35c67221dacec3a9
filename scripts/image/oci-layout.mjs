/**
 * An OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
 * written from directory trees, reproducibly: the same trees and the same description give the
 * same blobs, so the same manifest digest.
 *
 * - each layer: the reproducible tar of one tree (tar-writer.mjs), gzip at a fixed level by
 *   node:zlib (its header carries no time and no name); its diff_id is the sha256 of the tar;
 * - the config: `created` and every history entry at the one time given (the commit time),
 *   no builder host, no container id;
 * - JSON written with keys in a fixed order, no whitespace;
 * - blobs written under a temporary name and renamed when complete.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { entries, tarStream } from './tar-writer.mjs';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const GZIP_LEVEL = 9;

function hashing(hash) {
  return new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/** Write `data` as a blob; returns its descriptor. */
export async function writeBlob(out, mediaType, data) {
  const hex = createHash('sha256').update(data).digest('hex');
  await mkdir(join(out, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(out, 'blobs', 'sha256', hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

/**
 * One gzip layer blob from the tree at `dir`. Returns the layer's descriptor and diff_id.
 * @param {string} out the layout's directory
 * @param {string} dir the tree
 * @param {number} mtime seconds since the epoch for every entry
 */
export async function writeLayer(out, dir, mtime) {
  const list = await entries(dir);
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let size = 0;
  const blobs = join(out, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const tmp = join(blobs, `.layer-${process.pid}-${Math.random().toString(16).slice(2)}`);
  try {
    await pipeline(
      Readable.from(tarStream(list, mtime)),
      hashing(tarHash),
      createGzip({ level: GZIP_LEVEL }),
      new Transform({
        transform(chunk, _enc, done) {
          gzHash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(tmp),
    );
    const hex = gzHash.digest('hex');
    await rename(tmp, join(blobs, hex));
    return { descriptor: { mediaType: MEDIA.layer, digest: `sha256:${hex}`, size }, diffId: `sha256:${tarHash.digest('hex')}`, entries: list.length };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The image config (https://github.com/opencontainers/image-spec/blob/main/config.md).
 * @param {{ created: string, architecture: string, entrypoint: string[], cmd: string[], env: string[], labels: Record<string,string>, workingDir: string }} desc
 * @param {{ diffId: string, createdBy: string }[]} layers
 */
export function imageConfig(desc, layers) {
  const labels = Object.fromEntries(Object.entries(desc.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    created: desc.created,
    architecture: desc.architecture,
    os: 'linux',
    config: { Env: desc.env, Entrypoint: desc.entrypoint, Cmd: desc.cmd, WorkingDir: desc.workingDir, Labels: labels },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: desc.created, created_by: l.createdBy })),
  };
}

/**
 * Write the whole layout: layers, config, manifest, index.json (one manifest, annotated with
 * `org.opencontainers.image.ref.name` = `tag`) and oci-layout. Returns the manifest's descriptor.
 * @param {string} out an empty or missing directory
 * @param {{ tag: string, layers: { dir: string, createdBy: string, mtime: number }[] } & Parameters<typeof imageConfig>[0]} spec
 */
export async function writeLayout(out, spec) {
  await mkdir(out, { recursive: true });
  const layers = [];
  for (const l of spec.layers) {
    const written = await writeLayer(out, l.dir, l.mtime);
    layers.push({ ...written, createdBy: l.createdBy });
  }
  const config = await writeBlob(out, MEDIA.config, Buffer.from(JSON.stringify(imageConfig(spec, layers))));
  const annotations = { 'org.opencontainers.image.created': spec.created };
  for (const key of ['org.opencontainers.image.revision', 'org.opencontainers.image.source', 'org.opencontainers.image.version']) {
    if (spec.labels[key] !== undefined) annotations[key] = spec.labels[key];
  }
  const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config, layers: layers.map((l) => l.descriptor), annotations };
  const manifestDesc = await writeBlob(out, MEDIA.manifest, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{ ...manifestDesc, platform: { architecture: spec.architecture, os: 'linux' }, annotations: { 'org.opencontainers.image.ref.name': spec.tag } }],
  };
  await writeFile(join(out, 'index.json'), JSON.stringify(index));
  await writeFile(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { manifest: manifestDesc, layers: layers.map((l) => ({ ...l.descriptor, diffId: l.diffId, entries: l.entries, createdBy: l.createdBy })) };
}
