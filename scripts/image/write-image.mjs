#!/usr/bin/env node
/**
 * The last step of scripts/build-image.sh: the staged trees become an OCI image layout of
 * snaphost (oci-layout.mjs). Prints a JSON summary (manifest digest, layers, sizes) on stdout.
 *
 *   node scripts/image/write-image.mjs --out DIR --tag TAG --epoch SECONDS --arch amd64|arm64
 *     --revision SHA --version V --source URL
 *     --layer DIR --created-by TEXT --layer-epoch SECONDS [--layer ... ...]
 *
 * --epoch is the image's `created` (the commit's time); --layer-epoch the time of every entry
 * of that layer (the last commit that changed its inputs, at most --epoch), so a layer whose
 * inputs did not change is byte-identical from one commit to the next and is not shipped again.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeLayout } from './oci-layout.mjs';

/** What the image runs and where: the names fixed for the image (docs/kubernetes.md, "The image"). */
export const IMAGE_RUNTIME = {
  entrypoint: ['/usr/local/bin/snaphost'],
  cmd: ['serve', '--config', '/etc/snaphost/plugins.config.ts'],
  env: ['PATH=/opt/snaphost/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production'],
  workingDir: '/',
};

const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Check and shape the command line into writeLayout's spec; throws naming what is wrong. */
export function parseSpec(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      tag: { type: 'string' },
      epoch: { type: 'string' },
      arch: { type: 'string' },
      revision: { type: 'string' },
      version: { type: 'string' },
      source: { type: 'string' },
      layer: { type: 'string', multiple: true },
      'created-by': { type: 'string', multiple: true },
      'layer-epoch': { type: 'string', multiple: true },
    },
    strict: true,
  });
  for (const k of ['out', 'tag', 'epoch', 'arch', 'revision', 'version', 'source']) {
    if (!values[k]) throw new Error(`--${k} is required`);
  }
  if (!TAG.test(values.tag)) throw new Error(`--tag ${JSON.stringify(values.tag)} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
  if (!/^\d{1,11}$/.test(values.epoch)) throw new Error(`--epoch ${JSON.stringify(values.epoch)} is not seconds since the epoch`);
  if (!['amd64', 'arm64'].includes(values.arch)) throw new Error(`--arch ${JSON.stringify(values.arch)}: amd64 or arm64`);
  if (!/^[0-9a-f]{40}(-dirty)?$/.test(values.revision)) throw new Error(`--revision ${JSON.stringify(values.revision)} is not a git commit`);
  const layers = values.layer ?? [];
  const createdBy = values['created-by'] ?? [];
  if (layers.length === 0) throw new Error('at least one --layer is required');
  const epochs = values['layer-epoch'] ?? [];
  if (layers.length !== createdBy.length || layers.length !== epochs.length) {
    throw new Error(`${layers.length} --layer, ${createdBy.length} --created-by, ${epochs.length} --layer-epoch: give one of each per layer, in order`);
  }
  const mtime = Number(values.epoch);
  for (const e of epochs) {
    if (!/^\d{1,11}$/.test(e) || Number(e) > mtime) throw new Error(`--layer-epoch ${JSON.stringify(e)} is not seconds since the epoch at most --epoch`);
  }
  return {
    out: values.out,
    spec: {
      tag: values.tag,
      created: new Date(mtime * 1000).toISOString().replace('.000Z', 'Z'),
      architecture: values.arch,
      ...IMAGE_RUNTIME,
      labels: {
        'org.opencontainers.image.created': new Date(mtime * 1000).toISOString().replace('.000Z', 'Z'),
        'org.opencontainers.image.revision': values.revision,
        'org.opencontainers.image.source': values.source,
        'org.opencontainers.image.title': 'snaphost',
        'org.opencontainers.image.version': values.version,
      },
      layers: layers.map((dir, i) => ({ dir, createdBy: createdBy[i], mtime: Number(epochs[i]) })),
    },
  };
}

async function main() {
  let parsed;
  try {
    parsed = parseSpec(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`write-image: ${err.message}\n`);
    process.exit(2);
  }
  const result = await writeLayout(parsed.out, parsed.spec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`write-image: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
