/** `snaphost containerd-config`: print the containerd config for the configured backends. */
import { containerdConfigToml, parseContainerdMajor } from '../../containerd-config/containerd-config.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag, refuseLoadFailures } from '../config-flag.js';
import { UsageError } from '../parse-command-line.js';

export const containerdConfig = defineCommand({
  name: 'containerd-config',
  usage: `  snaphost containerd-config [--config FILE] [--containerd 1|2] [--fragment | --cri-snapshotter NAME]
      Print the containerd config for the configured backends: for containerd 1.x (default;
      config version 2) or 2.x (version 3, with [proxy_plugins.NAME.exports] and the transfer
      service's unpack_config), CRI settings as commented choices. --cri-snapshotter NAME:
      the CRI table active, with backend NAME for every pod. --fragment: only the
      [proxy_plugins] tables (2.x: and unpack_config), to merge.
`,
  options: { ...CONFIG_OPTION, containerd: { type: 'string' }, fragment: { type: 'boolean' }, 'cri-snapshotter': { type: 'string' } },
  async run({ values, logLevel }, io) {
    const config = await configOfFlag(values.config, logLevel, io);
    const containerd = values.containerd === undefined ? 1 : parseContainerdMajor(values.containerd);
    if (containerd === undefined) throw new UsageError(`--containerd must be 1 or 2 (the containerd major version), got "${values.containerd}"`);
    const criSnapshotter = values['cri-snapshotter'];
    if (criSnapshotter !== undefined) {
      if (values.fragment === true) throw new UsageError('--cri-snapshotter cannot be combined with --fragment (a fragment has no CRI table)');
      const names = config.backends.map((b) => b.name);
      if (!names.includes(criSnapshotter)) throw new UsageError(`--cri-snapshotter must name a configured backend (${names.join(', ')}), got "${criSnapshotter}"`);
    }
    if (refuseLoadFailures(config, io)) return 1;
    io.stdout.write(containerdConfigToml(config, { containerd, fragment: values.fragment === true, criSnapshotter }));
    return 0;
  },
});
