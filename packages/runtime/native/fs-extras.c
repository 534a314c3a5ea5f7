/*
 * fs-extras.node: the file system calls the home layers, image imports and sandbox pipes need that Node.js does not
 * offer.
 *
 *   isOpaque(path)          lgetxattr(path, "trusted.overlay.opaque") == "y": overlayfs marks a directory of the
 *                           upper layer opaque when it hides everything below it (deleted, then made again)
 *   setOpaque(path)         lsetxattr of that attribute, to mark a directory of a lower layer the same way
 *   makeWhiteout(path)      mknod(path, S_IFCHR, 0:0): overlayfs's mark for a deleted file or directory
 *   makeFifo(path)          mknod(path, S_IFIFO | 0600): a named pipe its owner alone may open (the umask applies)
 *   dropCapabilities(path)  lremovexattr(path, "security.capability"): the capabilities a file of an imported image
 *                           may carry; answers whether it had any
 *
 * Each throws an Error with the errno name in `code` (ENOENT, ...); isOpaque answers false when the attribute is
 * absent or the file system has no extended attributes.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define OPAQUE_ATTRIBUTE "trusted.overlay.opaque"
#define CAPABILITY_ATTRIBUTE "security.capability"
#define MAX_PATH_BYTES 4096

static napi_value throw_errno(napi_env env, int error, const char *call) {
  const char *name = error == ENOENT ? "ENOENT" : error == EEXIST ? "EEXIST" : error == EPERM ? "EPERM"
                   : error == EACCES ? "EACCES" : error == ENOTSUP ? "ENOTSUP" : error == ENOTDIR ? "ENOTDIR" : "EIO";
  char message[256];
  snprintf(message, sizeof message, "%s: %s", call, strerror(error));
  napi_throw_error(env, name, message);
  return NULL;
}

/* Copies the one string argument into `path`; returns 0 (with a pending exception) when it is missing or too long. */
static int path_argument(napi_env env, napi_callback_info info, char *path) {
  size_t count = 1;
  napi_value argument;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &count, &argument, NULL, NULL) != napi_ok || count < 1 ||
      napi_get_value_string_utf8(env, argument, path, MAX_PATH_BYTES, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a path");
    return 0;
  }
  if (length >= MAX_PATH_BYTES - 1 || strlen(path) != length) {
    napi_throw_type_error(env, NULL, "path too long or with a NUL byte");
    return 0;
  }
  return 1;
}

static napi_value is_opaque(napi_env env, napi_callback_info info) {
  char path[MAX_PATH_BYTES];
  if (!path_argument(env, info, path)) return NULL;
  char value[8];
  ssize_t length = lgetxattr(path, OPAQUE_ATTRIBUTE, value, sizeof value);
  if (length < 0 && errno != ENODATA && errno != ENOTSUP) return throw_errno(env, errno, "lgetxattr");
  napi_value result;
  napi_get_boolean(env, length == 1 && value[0] == 'y', &result);
  return result;
}

static napi_value set_opaque(napi_env env, napi_callback_info info) {
  char path[MAX_PATH_BYTES];
  if (!path_argument(env, info, path)) return NULL;
  if (lsetxattr(path, OPAQUE_ATTRIBUTE, "y", 1, 0) != 0) return throw_errno(env, errno, "lsetxattr");
  return NULL;
}

static napi_value make_whiteout(napi_env env, napi_callback_info info) {
  char path[MAX_PATH_BYTES];
  if (!path_argument(env, info, path)) return NULL;
  if (mknod(path, S_IFCHR | 0, makedev(0, 0)) != 0) return throw_errno(env, errno, "mknod");
  return NULL;
}

static napi_value make_fifo(napi_env env, napi_callback_info info) {
  char path[MAX_PATH_BYTES];
  if (!path_argument(env, info, path)) return NULL;
  if (mknod(path, S_IFIFO | 0600, 0) != 0) return throw_errno(env, errno, "mknod");
  return NULL;
}

static napi_value drop_capabilities(napi_env env, napi_callback_info info) {
  char path[MAX_PATH_BYTES];
  if (!path_argument(env, info, path)) return NULL;
  int dropped = lremovexattr(path, CAPABILITY_ATTRIBUTE) == 0;
  if (!dropped && errno != ENODATA && errno != ENOTSUP) return throw_errno(env, errno, "lremovexattr");
  napi_value result;
  napi_get_boolean(env, dropped, &result);
  return result;
}

static napi_value initialize(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
    {"isOpaque", NULL, is_opaque, NULL, NULL, NULL, napi_default, NULL},
    {"setOpaque", NULL, set_opaque, NULL, NULL, NULL, napi_default, NULL},
    {"makeWhiteout", NULL, make_whiteout, NULL, NULL, NULL, napi_default, NULL},
    {"makeFifo", NULL, make_fifo, NULL, NULL, NULL, napi_default, NULL},
    {"dropCapabilities", NULL, drop_capabilities, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, initialize)
