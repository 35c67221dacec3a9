/*
 * poll(fd, buffer, batch, onRequest, onEnd): the device's requests delivered in the event loop.
 *
 * A uv_poll_t watches the (non-blocking) descriptor; on readable, up to `batch` requests are
 * read into the caller's buffer, each handed to onRequest(length) synchronously through
 * napi_make_callback (so promises and process.nextTick callbacks run after it, as after any
 * I/O callback). read(2) on /dev/fuse: EINTR retried, ENOENT (the request was interrupted
 * while queued) skipped, EAGAIN ends the wakeup, ENODEV (aborted or unmounted) and any other
 * error end the poll with onEnd(errno), called once. stop() ends it without onEnd; it is
 * idempotent and safe from inside onRequest (the loop checks after each call).
 *
 * An exception thrown by onRequest does not stop the poll or the process: it is cleared and
 * handed to process.emitWarning (a 'warning' event; printed on stderr unless handled), and
 * the next request is read. The session must answer each request itself, even on failure.
 *
 * Lifetime: the state is shared by the uv handle (until its close callback) and the stop()
 * function (until it is garbage collected); the last of the two frees it. While polling, the
 * callbacks and the buffer are held by references, released when the poll ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "args.h"
#include "device.h"

/* The kernel refuses reads into less than FUSE_MIN_READ_BUFFER (8 KiB). */
#define MIN_BUFFER 8192
#define MAX_BATCH 1024

typedef struct {
  uv_poll_t handle;
  napi_env env;
  int fd;
  uint8_t *buf;
  size_t buf_len;
  uint32_t batch;
  napi_ref buffer_ref, on_request, on_end;
  napi_async_context async_context;
  bool active;    /* polling: the references above are held */
  bool closing;   /* uv_close called */
  bool env_gone;  /* the env is being torn down: no N-API call from now on */
  int owners;     /* the uv handle and the stop function */
} poll_state;

static void release(poll_state *s) {
  if (--s->owners == 0) free(s);
}

static void env_cleanup(void *arg);

/* The handle is closed: the JavaScript references go (unless the env already took them). */
static void on_closed(uv_handle_t *handle) {
  poll_state *s = handle->data;
  if (s->active && !s->env_gone) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(s->env, &scope) == napi_ok) {
      napi_delete_reference(s->env, s->buffer_ref);
      napi_delete_reference(s->env, s->on_request);
      napi_delete_reference(s->env, s->on_end);
      napi_async_destroy(s->env, s->async_context);
      napi_close_handle_scope(s->env, scope);
    }
    napi_remove_env_cleanup_hook(s->env, env_cleanup, s);
  }
  s->active = false;
  release(s);
}

/* Stops watching; the rest happens when the handle is closed. */
static void finish(poll_state *s) {
  if (s->closing) return;
  s->closing = true;
  uv_poll_stop(&s->handle);
  uv_close((uv_handle_t *)&s->handle, on_closed);
}

/* The env goes away (worker exit, process teardown): stop, and make no N-API call from now on.
 * The stop function's finalizer still runs when the env drains its references; if the handle's
 * close callback never runs, the small state is left rather than risk a use after free. */
static void env_cleanup(void *arg) {
  poll_state *s = arg;
  s->env_gone = true;
  finish(s);
}

/* An exception from a callback: to process.emitWarning, never fatal. */
static void warn_exception(napi_env env) {
  napi_value error, global, process, emit, result;
  bool is_error = false;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return;
  if (napi_is_error(env, error, &is_error) != napi_ok) return;
  if (!is_error && napi_coerce_to_string(env, error, &error) != napi_ok) return;
  if (napi_get_global(env, &global) != napi_ok || napi_get_named_property(env, global, "process", &process) != napi_ok ||
      napi_get_named_property(env, process, "emitWarning", &emit) != napi_ok)
    return;
  if (napi_call_function(env, process, emit, 1, &error, &result) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
}

/* Calls the function held by `ref` with one integer (nothing when the env is unusable). */
static void call(poll_state *s, napi_ref ref, int64_t arg) {
  napi_env env = s->env;
  napi_value fn, recv, argv, result;
  if (napi_get_reference_value(env, ref, &fn) != napi_ok || napi_get_global(env, &recv) != napi_ok) return;
  if (napi_create_int64(env, arg, &argv) != napi_ok) return;
  if (napi_make_callback(env, s->async_context, recv, fn, 1, &argv, &result) != napi_ok) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) warn_exception(env);
  }
}

static void end(poll_state *s, int err) {
  if (s->closing) return;
  napi_value fn;
  /* onEnd runs after the poll is finished (stop() inside it is a no-op); its value is held by
   * the caller's handle scope, its reference until the handle is closed. */
  bool have_fn = napi_get_reference_value(s->env, s->on_end, &fn) == napi_ok;
  finish(s);
  if (!have_fn) return;
  napi_value recv, argv, result;
  if (napi_get_global(s->env, &recv) != napi_ok || napi_create_int32(s->env, err, &argv) != napi_ok) return;
  if (napi_make_callback(s->env, s->async_context, recv, fn, 1, &argv, &result) != napi_ok) {
    bool pending = false;
    if (napi_is_exception_pending(s->env, &pending) == napi_ok && pending) warn_exception(s->env);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  poll_state *s = handle->data;
  if (s->closing || s->env_gone) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  /* libuv reports POLLERR as status UV_EBADF and stops the watcher; /dev/fuse raises POLLERR
   * when the connection is gone, and read(2) then says why (ENODEV): read to learn it. */
  for (uint32_t i = 0; i < s->batch && !s->closing; i++) {
    ssize_t n = read(s->fd, s->buf, s->buf_len);
    if (n < 0) {
      if (errno == EINTR) { i--; continue; }
      if (errno == ENOENT) continue; /* interrupted before we read it: nothing to answer */
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (status < 0) end(s, -status);
        break;
      }
      end(s, errno);
      break;
    }
    if (n == 0) { end(s, ENODEV); break; }
    call(s, s->on_request, n);
  }
  if (status < 0 && !s->closing) end(s, -status); /* the watcher is stopped: do not hang */
  napi_close_handle_scope(s->env, scope);
}

static napi_value stop(napi_env env, napi_callback_info info) {
  void *data;
  NAPI_OR_NULL(napi_get_cb_info(env, info, NULL, NULL, NULL, &data));
  finish((poll_state *)data);
  napi_value undefined;
  NAPI_OR_NULL(napi_get_undefined(env, &undefined));
  return undefined;
}

static void stop_finalized(napi_env env, void *data, void *hint) {
  release((poll_state *)data);
}

static bool is_function(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_function;
}

napi_value device_poll(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t fd, batch;
  bool is_buffer;
  void *buf;
  size_t buf_len;
  NAPI_OR_NULL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_arg(env, "poll(fd, buffer, batch, onRequest, onEnd): 5 arguments");
  if (!arg_int64(env, argv[0], 0, INT32_MAX, &fd)) return throw_arg(env, "poll: fd must be a descriptor number");
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[1], &buf, &buf_len) != napi_ok || buf_len < MIN_BUFFER)
    return throw_arg(env, "poll: buffer must be a Buffer of at least 8192 bytes (the kernel's minimum read buffer)");
  if (!arg_int64(env, argv[2], 1, MAX_BATCH, &batch)) return throw_arg(env, "poll: batch must be an integer in [1, 1024]");
  if (!is_function(env, argv[3]) || !is_function(env, argv[4])) return throw_arg(env, "poll: onRequest and onEnd must be functions");
  uv_loop_t *loop;
  NAPI_OR_NULL(napi_get_uv_event_loop(env, &loop));
  poll_state *s = calloc(1, sizeof *s);
  if (s == NULL) return throw_errno(env, ENOMEM, "poll", NULL);
  s->env = env;
  s->fd = (int)fd;
  s->buf = buf;
  s->buf_len = buf_len;
  s->batch = (uint32_t)batch;
  int rc = uv_poll_init(loop, &s->handle, s->fd);
  if (rc < 0) {
    free(s);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  s->handle.data = s;
  s->owners = 1;
  napi_value name, stop_fn, result;
  if (napi_create_string_utf8(env, "snaphost:fuse-device", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &s->async_context) != napi_ok) {
    finish(s);
    return NULL;
  }
  napi_create_reference(env, argv[1], 1, &s->buffer_ref);
  napi_create_reference(env, argv[3], 1, &s->on_request);
  napi_create_reference(env, argv[4], 1, &s->on_end);
  s->active = true;
  napi_add_env_cleanup_hook(env, env_cleanup, s);
  rc = uv_poll_start(&s->handle, UV_READABLE, on_readable);
  if (rc < 0) {
    finish(s);
    return throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  if (napi_create_function(env, "stop", NAPI_AUTO_LENGTH, stop, s, &stop_fn) != napi_ok) {
    finish(s);
    return NULL;
  }
  s->owners = 2;
  if (napi_add_finalizer(env, stop_fn, s, stop_finalized, NULL, NULL) != napi_ok) {
    s->owners = 1; /* stop_fn is not handed out: nothing calls it */
    finish(s);
    return NULL;
  }
  NAPI_OR_NULL(napi_create_object(env, &result));
  NAPI_OR_NULL(napi_set_named_property(env, result, "stop", stop_fn));
  return result;
}
