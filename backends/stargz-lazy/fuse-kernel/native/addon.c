/* The module: the FuseDevice object of fuse-kernel/fuse-device.ts. */
#include <node_api.h>

#include "device.h"

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"open", NULL, device_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, device_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount", NULL, device_umount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, device_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writev", NULL, device_writev, NULL, NULL, NULL, napi_enumerable, NULL},
      {"backingOpen", NULL, device_backing_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"backingClose", NULL, device_backing_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"takeFd", NULL, device_take_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
