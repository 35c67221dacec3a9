#!/usr/bin/env bash
# The out-of-tree backend kit, end to end, as a backend author and an operator use it:
#   1. `npm pack` snaphost (this repository, built) and examples/quota-overlay, its own package;
#   2. a fresh directory: `npm install` both tarballs (no repository paths from here on);
#   3. plugins.config.mjs there loads the example BY PACKAGE NAME; `snaphost check` is ok;
#   4. `snaphost test-backend snaphost-quota-overlay --containerd`: contract checks +
#      containerd's suite + a private containerd importing an image and running a container on
#      it, 0 failed (the harness must ship in the snaphost package);
#   5. `snaphost serve` it; a gRPC client (using the installed packages) does prepare, writes
#      through the returned mounts, commit, view (read-only, sees the data), usage, list,
#      remove, and sees the quota refuse a layer over maxLayerSize; SIGTERM stops it (exit 0).
#   bash test/e2e/example-backend.e2e.sh   (root; needs `npm run build`; npm uses its cache
#   first, --prefer-offline, and the registry for snaphost's own dependencies it lacks)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"

e2e_require_cmds node npm tar mount umount
e2e_init example-backend
W=$E2E_WORK
APP=$W/app
NPM_FLAGS=(--no-audit --no-fund --prefer-offline --loglevel=error)

# ---- 1. pack ----------------------------------------------------------------------------
E2E_CURRENT=pack
[[ -f $REPO_ROOT/dist/core/cli/snaphost.js && -f $REPO_ROOT/dist/core/test-backend/test-backend-command.js ]] ||
  e2e_die "$REPO_ROOT/dist is missing or old: run npm run build"
mkdir -p "$W/packs"
SNAPHOST_TGZ=$(cd "$REPO_ROOT" && npm pack --silent --pack-destination "$W/packs" 2>"$W/pack.err" | tail -n 1)
EXAMPLE_TGZ=$(cd "$REPO_ROOT/examples/quota-overlay" && npm pack --silent --pack-destination "$W/packs" 2>>"$W/pack.err" | tail -n 1)
[[ -f $W/packs/$SNAPHOST_TGZ && -f $W/packs/$EXAMPLE_TGZ ]] || e2e_die "npm pack failed: $(tail -n 5 "$W/pack.err")"
tar -tzf "$W/packs/$SNAPHOST_TGZ" >"$W/snaphost-files.txt"
missing=
for f in dist/core/cli/snaphost.js dist/core/sdk.js dist/core/sdk.d.ts dist/core/test-backend/test-backend-command.js \
  test/conformance/run.sh test/conformance/lib.sh test/conformance/src/suite/suite_test.go proto/containerd/services/snapshots/v1/snapshots.proto; do
  grep -qxF "package/$f" "$W/snaphost-files.txt" || missing+=" $f"
done
if [[ -z $missing ]]; then e2e_pass pack-snaphost-ships-cli-sdk-and-harness; else e2e_fail pack-snaphost-ships-cli-sdk-and-harness "missing from $SNAPHOST_TGZ:$missing (package.json \"files\")"; fi
if tar -tzf "$W/packs/$EXAMPLE_TGZ" | grep -xF package/index.mjs >/dev/null; then e2e_pass pack-example; else e2e_fail pack-example "index.mjs is not in $EXAMPLE_TGZ"; fi

# ---- 2. a fresh directory, both installed from their tarballs ------------------------------
E2E_CURRENT=install
mkdir -p "$APP"
(cd "$APP" && npm init -y >/dev/null && npm install "${NPM_FLAGS[@]}" "$W/packs/$SNAPHOST_TGZ" "$W/packs/$EXAMPLE_TGZ") >"$W/install.log" 2>&1 ||
  e2e_die "npm install failed: $(tail -n 5 "$W/install.log")"
[[ -x $APP/node_modules/.bin/snaphost && -f $APP/node_modules/snaphost-quota-overlay/index.mjs && ! -L $APP/node_modules/snaphost ]] ||
  e2e_die "npm install did not install the snaphost bin and the example package"
e2e_pass npm-install-tarballs
SNAPHOST=$APP/node_modules/.bin/snaphost

cat >"$APP/plugins.config.mjs" <<CONF
import { defineConfig } from 'snaphost';

export default defineConfig({
  socketDir: '$W/run',
  rootDir: '$W/state',
  backends: [
    // loaded by package name from this directory's node_modules
    { use: 'snaphost-quota-overlay', name: 'quota', options: { maxLayerSize: '1m' } },
  ],
});
CONF

# ---- 3. check ------------------------------------------------------------------------------
E2E_CURRENT=check
if (cd "$APP" && timeout 60 "$SNAPHOST" check) >"$W/check.out" 2>&1 &&
  grep -qE '^  ok +quota +use=snaphost-quota-overlay ' "$W/check.out" && grep -qx 'result: ok' "$W/check.out"; then
  e2e_pass check-loads-the-package
else
  e2e_fail check-loads-the-package "$(tr '\n' ' ' <"$W/check.out" | cut -c1-400)"
fi

# ---- 4. test-backend -------------------------------------------------------------------------
E2E_CURRENT=test-backend
(cd "$APP" && timeout 900 "$SNAPHOST" test-backend snaphost-quota-overlay --containerd) >"$W/test-backend.out" 2>&1
tb_rc=$?
e2e_add_log test-backend "$W/test-backend.out"
tb_last=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$W/test-backend.out" | tail -n 1)
if [[ $tb_rc == 0 && $tb_last =~ ^([0-9]+)\ passed,\ 0\ failed && ${BASH_REMATCH[1]} -ge 30 ]] &&
  grep -qx 'contract: 11 passed, 0 failed, 0 skipped' "$W/test-backend.out" && grep -qE '^conformance: [0-9]+ passed, 0 failed' "$W/test-backend.out" &&
  grep -qx 'containerd-run: 6 passed, 0 failed, 0 skipped' "$W/test-backend.out"; then
  e2e_pass "test-backend-by-package-name ($tb_last)"
else
  e2e_fail test-backend-by-package-name "exit $tb_rc, last line '$tb_last'; $(grep -E '^(FAIL|---)' "$W/test-backend.out" | head -n 5 | tr '\n' ' ')"
fi

# ---- 5. serve it and drive it over gRPC ---------------------------------------------------
E2E_CURRENT=serve
SOCK=$W/run/quota.sock
(cd "$APP" && exec "$SNAPHOST" serve --config plugins.config.mjs --log-level debug) >"$W/serve.log" 2>&1 </dev/null &
SERVE_PID=$!
e2e_on_exit "e2e_stop_pid $SERVE_PID 10"
e2e_add_log serve "$W/serve.log"
e2e_wait 30 test -S "$SOCK" || e2e_die "serve did not create $SOCK"

# A client an operator could write next to the config: only the installed packages.
cat >"$APP/round-trip.mjs" <<'JS'
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [socket, mnt] = process.argv.slice(2);
const protoDir = join(dirname(createRequire(import.meta.url).resolve('snaphost/package.json')), 'proto');
const def = protoLoader.loadSync('containerd/services/snapshots/v1/snapshots.proto', { includeDirs: [protoDir], longs: String, enums: String, defaults: true });
const Snapshots = grpc.loadPackageDefinition(def).containerd.services.snapshots.v1.Snapshots;
const client = new Snapshots(`unix://${socket}`, grpc.credentials.createInsecure());
const rpc = (method, req) =>
  new Promise((res, rej) => client[method]({ snapshotter: 'quota', ...req }, { deadline: Date.now() + 30_000 }, (e, r) => (e ? rej(e) : res(r))));
const list = () =>
  new Promise((res, rej) => {
    const names = [];
    const call = client.List({ snapshotter: 'quota', filters: [] });
    call.on('data', (r) => names.push(...r.info.map((i) => `${i.name}:${i.kind}`)));
    call.on('error', rej);
    call.on('end', () => res(names.sort()));
  });
// Mount what the snapshotter returned, the way containerd does, run fn on it, unmount.
function withMounted(mounts, fn) {
  mkdirSync(mnt, { recursive: true });
  const [m] = mounts;
  if (mounts.length !== 1) throw new Error(`expected one mount, got ${JSON.stringify(mounts)}`);
  const type = m.type === 'bind' ? [] : ['-t', m.type];
  execFileSync('mount', [...type, '-o', m.options.join(','), m.source, mnt]);
  try {
    return fn(mnt);
  } finally {
    execFileSync('umount', [mnt]);
  }
}
let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    console.log(`PASS ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err.message ?? err}`);
  }
}
const expect = (ok, why) => {
  if (!ok) throw new Error(why);
};

await step('prepare-write-commit', async () => {
  const { mounts } = await rpc('Prepare', { key: 'ns/1/extract hello', parent: '' });
  withMounted(mounts, (dir) => writeFileSync(join(dir, 'hello.txt'), 'hello from quota-overlay\n'));
  await rpc('Commit', { name: 'ns/2/layer-hello', key: 'ns/1/extract hello' });
  const { info } = await rpc('Stat', { key: 'ns/2/layer-hello' });
  expect(info.kind === 'COMMITTED' && info.parent === '', `stat: ${JSON.stringify(info)}`);
});
await step('view-reads-the-layer-read-only', async () => {
  const { mounts } = await rpc('View', { key: 'ns/3/view', parent: 'ns/2/layer-hello' });
  withMounted(mounts, (dir) => {
    expect(readFileSync(join(dir, 'hello.txt'), 'utf8') === 'hello from quota-overlay\n', 'the view does not show hello.txt');
    let refused = false;
    try {
      writeFileSync(join(dir, 'other.txt'), 'x');
    } catch (err) {
      refused = err.code === 'EROFS';
    }
    expect(refused, 'a write into the view was not refused with EROFS');
  });
});
await step('usage-and-list', async () => {
  const usage = await rpc('Usage', { key: 'ns/2/layer-hello' });
  expect(Number(usage.size) > 0 && Number(usage.inodes) >= 2, `usage: ${JSON.stringify(usage)}`);
  const names = await list();
  expect(JSON.stringify(names) === JSON.stringify(['ns/2/layer-hello:COMMITTED', 'ns/3/view:VIEW']), `list: ${names}`);
});
await step('quota-refuses-a-layer-over-maxLayerSize', async () => {
  const { mounts } = await rpc('Prepare', { key: 'ns/4/extract big', parent: 'ns/2/layer-hello' });
  withMounted(mounts, (dir) => writeFileSync(join(dir, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 7)));
  const err = await rpc('Commit', { name: 'ns/5/layer-big', key: 'ns/4/extract big' }).then(() => undefined, (e) => e);
  expect(err?.code === grpc.status.FAILED_PRECONDITION, `commit of a 2 MiB layer: ${err ? `${err.code} ${err.details}` : 'it succeeded'}`);
  expect(/over maxLayerSize \(1048576 bytes\)/.test(err.details), `message: ${err.details}`);
  const { info } = await rpc('Stat', { key: 'ns/4/extract big' });
  expect(info.kind === 'ACTIVE', 'the refused snapshot is no longer active');
  await rpc('Remove', { key: 'ns/4/extract big' });
});
await step('remove-all', async () => {
  await rpc('Remove', { key: 'ns/3/view' });
  await rpc('Remove', { key: 'ns/2/layer-hello' });
  const names = await list();
  expect(names.length === 0, `left: ${names}`);
});
client.close();
process.exitCode = failed === 0 ? 0 : 1;
JS

E2E_CURRENT=round-trip
(cd "$APP" && timeout 120 node round-trip.mjs "$SOCK" "$W/mnt") >"$W/round-trip.out" 2>&1
while IFS= read -r line; do
  case $line in
    PASS\ *) e2e_pass "grpc:${line#PASS }" ;;
    FAIL\ *) rest=${line#FAIL }; e2e_fail "grpc:${rest%%: *}" "${rest#*: }" ;;
  esac
done <"$W/round-trip.out"
grep -qE '^(PASS|FAIL) ' "$W/round-trip.out" || e2e_fail round-trip "the client printed no result: $(tail -n 5 "$W/round-trip.out" | tr '\n' ' ')"

E2E_CURRENT=stop
kill -TERM "$SERVE_PID" 2>/dev/null
if e2e_wait 15 bash -c "! kill -0 $SERVE_PID 2>/dev/null"; then
  wait "$SERVE_PID"
  rc=$?
  if [[ $rc == 0 && ! -e $SOCK ]]; then e2e_pass sigterm-stops-cleanly; else e2e_fail sigterm-stops-cleanly "exit $rc, socket left: $([[ -e $SOCK ]] && echo yes || echo no)"; fi
else
  e2e_fail sigterm-stops-cleanly "serve still running 15 s after SIGTERM"
fi

e2e_finish
