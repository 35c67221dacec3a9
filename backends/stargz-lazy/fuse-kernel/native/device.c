/*
 * /dev/fuse and the system calls around it, one thin function each: open, mount(2), umount2,
 * writev of one reply, the passthrough backing ioctls, and pidfd_getfd for the handover.
 * Only open and mount throw (as the interface says); the others return -errno.
 */
#include "device.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "args.h"

/* The passthrough ioctls (Linux >= 6.9, include/uapi/linux/fuse.h 7.40); this machine's headers
 * may be older, so they are defined here from the protocol. */
struct snaphost_fuse_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define SNAPHOST_FUSE_DEV_IOC_MAGIC 229
#define SNAPHOST_FUSE_DEV_IOC_BACKING_OPEN _IOW(SNAPHOST_FUSE_DEV_IOC_MAGIC, 1, struct snaphost_fuse_backing_map)
#define SNAPHOST_FUSE_DEV_IOC_BACKING_CLOSE _IOW(SNAPHOST_FUSE_DEV_IOC_MAGIC, 2, uint32_t)

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The mount options string is one page at most (the kernel copies one page). */
#define MOUNT_DATA_MAX 4096
/* A file system type name: "fuse." + subtype. */
#define FSTYPE_MAX 256
/* Parts of one reply: header, body, data; readdir replies are one part too. */
#define WRITEV_MAX_PARTS 1024
#define WRITEV_STACK_PARTS 16

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  return argc >= want;
}

napi_value device_open(napi_env env, napi_callback_info info) {
  int fd;
  do fd = open("/dev/fuse", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return throw_errno(env, errno, "open", "/dev/fuse");
  return make_int(env, fd);
}

napi_value device_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char target[PATH_MAX], source[PATH_MAX], fstype[FSTYPE_MAX], data[MOUNT_DATA_MAX];
  int64_t flags;
  if (!get_args(env, info, 5, argv)) return throw_arg(env, "mount(target, source, fstype, flags, data): 5 arguments");
  if (!arg_string(env, argv[0], target, sizeof target) || target[0] != '/') return throw_arg(env, "mount: target must be an absolute path without NUL bytes, shorter than PATH_MAX");
  if (!arg_string(env, argv[1], source, sizeof source)) return throw_arg(env, "mount: source must be a string without NUL bytes, shorter than PATH_MAX");
  if (!arg_string(env, argv[2], fstype, sizeof fstype)) return throw_arg(env, "mount: fstype must be a string without NUL bytes, shorter than 256 bytes");
  if (!arg_int64(env, argv[3], 0, UINT32_MAX, &flags)) return throw_arg(env, "mount: flags must be an integer in [0, 2^32)");
  if (!arg_string(env, argv[4], data, sizeof data)) return throw_arg(env, "mount: data must be a string without NUL bytes, shorter than 4096 bytes");
  if (mount(source, target, fstype, (unsigned long)flags, data) != 0) return throw_errno(env, errno, "mount", target);
  napi_value undefined;
  NAPI_OR_NULL(napi_get_undefined(env, &undefined));
  return undefined;
}

napi_value device_umount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char target[PATH_MAX];
  int64_t flags;
  if (!get_args(env, info, 2, argv) || !arg_string(env, argv[0], target, sizeof target) || !arg_int64(env, argv[1], 0, INT32_MAX, &flags)) return make_int(env, -EINVAL);
  int rc = umount2(target, (int)flags);
  return make_int(env, rc == 0 ? 0 : -errno);
}

/* Byte view of one part: any Uint8Array (Buffer included). */
static bool part_bytes(napi_env env, napi_value v, struct iovec *iov) {
  bool is_typed;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array) return false;
  iov->iov_base = data;
  iov->iov_len = length;
  return true;
}

napi_value device_writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  bool is_array;
  uint32_t count;
  if (!get_args(env, info, 2, argv) || !arg_int64(env, argv[0], 0, INT32_MAX, &fd)) return make_int(env, -EBADF);
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return make_int(env, -EINVAL);
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > WRITEV_MAX_PARTS) return make_int(env, -EINVAL);
  struct iovec stack[WRITEV_STACK_PARTS];
  struct iovec *iov = count <= WRITEV_STACK_PARTS ? stack : malloc(sizeof(struct iovec) * count);
  if (iov == NULL) return make_int(env, -ENOMEM);
  int64_t result = 0;
  for (uint32_t i = 0; i < count && result == 0; i++) {
    napi_value part;
    if (napi_get_element(env, argv[1], i, &part) != napi_ok || !part_bytes(env, part, &iov[i])) result = -EINVAL;
  }
  if (result == 0) {
    ssize_t n;
    /* One reply is one writev: the kernel takes it whole or not at all. */
    do n = writev((int)fd, iov, (int)count);
    while (n < 0 && errno == EINTR);
    result = n < 0 ? -errno : n;
  }
  if (iov != stack) free(iov);
  return make_int(env, result);
}

napi_value device_backing_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd, backing_fd;
  if (!get_args(env, info, 2, argv) || !arg_int64(env, argv[0], 0, INT32_MAX, &fd) || !arg_int64(env, argv[1], 0, INT32_MAX, &backing_fd)) return make_int(env, -EBADF);
  struct snaphost_fuse_backing_map map = {.fd = (int32_t)backing_fd, .flags = 0, .padding = 0};
  int id = ioctl((int)fd, SNAPHOST_FUSE_DEV_IOC_BACKING_OPEN, &map);
  return make_int(env, id < 0 ? -errno : id);
}

napi_value device_backing_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd, id;
  if (!get_args(env, info, 2, argv) || !arg_int64(env, argv[0], 0, INT32_MAX, &fd)) return make_int(env, -EBADF);
  if (!arg_int64(env, argv[1], 1, UINT32_MAX, &id)) return make_int(env, -EINVAL);
  uint32_t backing_id = (uint32_t)id;
  int rc = ioctl((int)fd, SNAPHOST_FUSE_DEV_IOC_BACKING_CLOSE, &backing_id);
  return make_int(env, rc < 0 ? -errno : 0);
}

napi_value device_take_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t pid, fd;
  if (!get_args(env, info, 2, argv) || !arg_int64(env, argv[0], 1, INT32_MAX, &pid)) return make_int(env, -ESRCH);
  if (!arg_int64(env, argv[1], 0, INT32_MAX, &fd)) return make_int(env, -EBADF);
  long pidfd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) return make_int(env, -errno);
  /* The duplicate has O_CLOEXEC set (pidfd_getfd(2)). */
  long taken = syscall(SYS_pidfd_getfd, (int)pidfd, (int)fd, 0);
  int err = errno;
  close((int)pidfd);
  return make_int(env, taken < 0 ? -err : taken);
}
