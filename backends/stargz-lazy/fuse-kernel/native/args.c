/* Argument checking and errors: see args.h. */
#include "args.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

bool arg_int64(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype type;
  double d;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number) return false;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) return false;
  *out = (int64_t)d;
  return true;
}

bool arg_string(napi_env env, napi_value v, char *buf, size_t cap) {
  napi_valuetype type;
  size_t len = 0;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_string) return false;
  /* Length first: napi_get_value_string_utf8 truncates silently. */
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= cap) return false;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return false;
  return strlen(buf) == len;
}

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  char message[512];
  /* libuv's error codes are -errno on Linux: its names and messages are Node's own. */
  const char *name = uv_err_name(-err);
  snprintf(message, sizeof message, "%s: %s%s%s (%s)", syscall, uv_strerror(-err), what ? ": " : "", what ? what : "", name);
  napi_value code, msg, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, code, msg, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, -err, &errno_value) == napi_ok) napi_set_named_property(env, error, "errno", errno_value);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) == napi_ok) napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

napi_value throw_arg(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return NULL;
  return out;
}
