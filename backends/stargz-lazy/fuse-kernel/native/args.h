/*
 * Argument checking and errors shared by the addon's functions: JavaScript values are checked
 * before any system call (integers in range, strings bounded and free of NUL bytes), and a
 * failed system call becomes an Error carrying .code ("ENOENT"), .errno (-2, as Node's own) and
 * .syscall.
 */
#ifndef SNAPHOST_FUSE_ARGS_H
#define SNAPHOST_FUSE_ARGS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns NULL from the calling napi_callback when a N-API call fails (an exception is then
 * pending, or the env is going away). */
#define NAPI_OR_NULL(call)                                                                      \
  do {                                                                                          \
    if ((call) != napi_ok) return NULL;                                                         \
  } while (0)

/* `v` as an integer in [min, max]; false (nothing thrown) when it is not one. */
bool arg_int64(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out);

/* `v` as a NUL-terminated UTF-8 string of at most `cap - 1` bytes, without NUL bytes inside;
 * false (nothing thrown) when it is not a string, too long or contains a NUL. */
bool arg_string(napi_env env, napi_value v, char *buf, size_t cap);

/* Throws an Error for `err` (a positive errno) from `syscall`, with .code/.errno/.syscall.
 * `what` (may be NULL) is added to the message. Returns NULL for convenience. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what);

/* Throws a TypeError with code ERR_INVALID_ARG_VALUE naming the argument. Returns NULL. */
napi_value throw_arg(napi_env env, const char *message);

/* A JavaScript number from an int64 (|v| < 2^53 in every use here). NULL on failure. */
napi_value make_int(napi_env env, int64_t v);

#endif
