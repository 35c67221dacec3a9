# The kernel FUSE transport's N-API addon (C, no C++): built by scripts/build-native.mjs at
# `npm install` with npm's bundled node-gyp, offline, against the running Node.js's headers.
{
  "targets": [
    {
      "target_name": "snaphost_fuse_kernel",
      "sources": ["args.c", "device.c", "poll.c", "addon.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags!": ["-O3"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", "-std=gnu11"]
    }
  ]
}
