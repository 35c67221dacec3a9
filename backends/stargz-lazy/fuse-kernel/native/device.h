/* The synchronous functions of the addon (device.c) and the poll (poll.c), registered by addon.c. */
#ifndef SNAPHOST_FUSE_DEVICE_H
#define SNAPHOST_FUSE_DEVICE_H

#include <node_api.h>

napi_value device_open(napi_env env, napi_callback_info info);
napi_value device_mount(napi_env env, napi_callback_info info);
napi_value device_umount(napi_env env, napi_callback_info info);
napi_value device_writev(napi_env env, napi_callback_info info);
napi_value device_backing_open(napi_env env, napi_callback_info info);
napi_value device_backing_close(napi_env env, napi_callback_info info);
napi_value device_take_fd(napi_env env, napi_callback_info info);
napi_value device_poll(napi_env env, napi_callback_info info);

#endif
