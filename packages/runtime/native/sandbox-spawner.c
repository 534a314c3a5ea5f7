/*
 * airlock-spawner: a small resident process that starts bubblewrap for every sandbox.
 *
 *   airlock-spawner MOUNT_ROOT
 *
 * Started once by the runtime, as root. Forking this process costs far less than forking the server, and the
 * server's event loop never blocks on a fork. It
 *   - reads spawn requests from fd 0 and writes one event per sandbox start and exit to fd 1;
 *   - for a request, opens the named pipes and files it lists (the server already holds the other end of each
 *     pipe, so no open blocks) and forks a child that puts them on fds 1..N, closes every other descriptor,
 *     writes itself into each cgroup.procs file (so the sandbox is accounted and limited from its first
 *     instruction), drops to the sandbox uid and gid with no supplementary groups, and execs the program;
 *   - is a child subreaper: it reaps every descendant reparented to it (bubblewrap's monitor exits without
 *     reaping the sandbox's pid 1), and reports each requested child's status: its exit code, or 128 + the
 *     signal that killed it;
 *   - mounts and unmounts the sandboxes' home directories and image roots: tmpfs and overlayfs mounts (nosuid,
 *     nodev) on directories below MOUNT_ROOT only, which reach running sandboxes by mount propagation; relative
 *     paths in the mount data resolve against the target's parent directory, so an overlay's options (which a
 *     sandbox reads in its mount table) name no host path;
 *   - dies with the server (PR_SET_PDEATHSIG), and every sandbox dies with it; it exits when fd 0 closes.
 *
 * Request (little-endian): u32 length of the rest, u32 id, u32 operation, then the operation's fields.
 *   1 spawn: u32 uid, u32 gid, u32 file count, u32 cgroup count, u32 argument count, then that many NUL-terminated
 *     strings: the files, each "r<path>" or "w<path>" (opened read-only or write-only, becoming fds 1, 2, ...) or
 *     "n<path>" (a network namespace below /run/netns/airlock-, which the child joins before it drops its
 *     privileges; it takes no fd number), the cgroup.procs files, and the program's argv (argv[0] is the program's
 *     absolute path). fd 0 of the program is /dev/null.
 *   2 mount: u32 type (1 tmpfs, 2 overlay), then the target directory and the mount data, NUL-terminated; the
 *     mount runs with the target's parent as working directory.
 *   3 unmount: the target directory, NUL-terminated; detached, so open files do not keep it busy.
 *   4 command: as spawn, but the program runs as root and must be one of COMMANDS (the tools that wire sandboxes'
 *     networks), without cgroups; uid and gid are ignored. Sandboxes are never started this way.
 *   5 bind: u32 flags (1 read-only, 2 create missing directories), u32 uid, u32 gid, then the source root (an
 *     absolute path), the path below it ("" for the root itself: segments separated by "/", resolved one at a time
 *     with no symbolic link followed and never above the root; missing ones made with mode 0755 and owned by uid and
 *     gid when flag 2 is set) and the target directory, NUL-terminated. The source is cloned as a detached mount
 *     (nosuid, nodev, read-only when flag 1 is set before it is attached anywhere, so every copy propagation makes
 *     is read-only too) and attached on the target.
 * Event: u32 id, u32 kind (1 started: value = pid; 2 exited: value = status; 3 failed: value = errno; 4 done),
 * i32 value, u32 zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQUEST_BYTES (1u << 20)
#define MAX_FILES 16
#define MAX_CGROUPS 8
#define MAX_ARGUMENTS 4096
/* Opened files are parked above this number before they are moved to 1..N in the child. */
#define PARK_FD 64

enum { EVENT_STARTED = 1, EVENT_EXITED = 2, EVENT_FAILED = 3, EVENT_DONE = 4 };
enum { OP_SPAWN = 1, OP_MOUNT = 2, OP_UNMOUNT = 3, OP_COMMAND = 4, OP_BIND = 5 };
enum { BIND_READ_ONLY = 1, BIND_CREATE = 2 };

/* The only programs operation 4 runs as root. */
static const char *const COMMANDS[] = {"/usr/sbin/ip", "/usr/sbin/tc", "/usr/sbin/conntrack", NULL};

static int is_command(const char *program) {
  for (const char *const *command = COMMANDS; *command; command++) {
    if (strcmp(program, *command) == 0) return 1;
  }
  return 0;
}
enum { MOUNT_TMPFS = 1, MOUNT_OVERLAY = 2 };

static const char *mount_root;

struct child {
  pid_t pid;
  uint32_t id;
};

static struct child *children;
static size_t child_count;
static size_t child_capacity;

static void fatal(const char *what) {
  fprintf(stderr, "airlock-spawner: %s: %s\n", what, strerror(errno));
  _exit(127);
}

static void write_all(int fd, const void *data, size_t length) {
  const char *bytes = data;
  while (length > 0) {
    ssize_t written = write(fd, bytes, length);
    if (written < 0) {
      if (errno == EINTR) continue;
      fatal("writing an event");
    }
    bytes += written;
    length -= (size_t)written;
  }
}

/* Reads exactly `length` bytes; returns 0 at end of file before the first byte. */
static int read_exact(int fd, void *data, size_t length) {
  char *bytes = data;
  size_t done = 0;
  while (done < length) {
    ssize_t got = read(fd, bytes + done, length - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      fatal("reading a request");
    }
    if (got == 0) {
      if (done == 0) return 0;
      fprintf(stderr, "airlock-spawner: truncated request\n");
      _exit(127);
    }
    done += (size_t)got;
  }
  return 1;
}

static void send_event(uint32_t id, uint32_t kind, int32_t value) {
  uint32_t event[4] = {id, kind, (uint32_t)value, 0};
  write_all(STDOUT_FILENO, event, sizeof event);
}

static void remember(pid_t pid, uint32_t id) {
  if (child_count == child_capacity) {
    child_capacity = child_capacity ? child_capacity * 2 : 64;
    children = realloc(children, child_capacity * sizeof *children);
    if (!children) fatal("realloc");
  }
  children[child_count++] = (struct child){pid, id};
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t index = 0; index < child_count; index++) {
      if (children[index].pid != pid) continue;
      int32_t code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      send_event(children[index].id, EVENT_EXITED, code);
      children[index] = children[--child_count];
      break;
    }
  }
}

static void child_fail(const char *what) {
  /* fd 2 is the sandbox's stderr by now: the server shows this line as the start failure. */
  dprintf(STDERR_FILENO, "airlock-spawner: %s: %s\n", what, strerror(errno));
  _exit(127);
}

static void run_child(uid_t uid, gid_t gid, const int *parked, char **files, uint32_t file_count, char **cgroups,
                      uint32_t cgroup_count, char **argv, pid_t spawner, const sigset_t *original_mask) {
  if (sigprocmask(SIG_SETMASK, original_mask, NULL) != 0) _exit(127);
  uint32_t placed = 0;
  for (uint32_t index = 0; index < file_count; index++) {
    if (files[index][0] == 'n') {
      if (setns(parked[index], CLONE_NEWNET) != 0) _exit(127);
    } else if (dup2(parked[index], (int)++placed) < 0) {
      _exit(127);
    }
  }
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, 0) < 0) child_fail("/dev/null");
  if (syscall(SYS_close_range, placed + 1, ~0U, 0) != 0) child_fail("close_range");
  for (uint32_t index = 0; index < cgroup_count; index++) {
    int fd = open(cgroups[index], O_WRONLY | O_CLOEXEC);
    /* "0" means the writing process, on cgroup v1 and v2 alike. */
    if (fd < 0 || write(fd, "0", 1) != 1) child_fail(cgroups[index]);
    close(fd);
  }
  if (uid != 0) {
    if (setgroups(0, NULL) != 0) child_fail("setgroups");
    if (setresgid(gid, gid, gid) != 0) child_fail("setresgid");
    if (setresuid(uid, uid, uid) != 0) child_fail("setresuid");
  }
  /* Cleared by the credential change above, so set after it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail("PR_SET_PDEATHSIG");
  if (getppid() != spawner) _exit(127);
  execv(argv[0], argv);
  child_fail(argv[0]);
}

static int open_file(const char *entry) {
  if (entry[0] == 'n') {
    /* Only the namespaces Airlock made; the path has no "/" after its prefix, so nothing resolves elsewhere. */
    static const char prefix[] = "/run/netns/airlock-";
    if (strncmp(entry + 1, prefix, sizeof prefix - 1) != 0 || strchr(entry + sizeof prefix, '/') != NULL) {
      errno = EPERM;
      return -1;
    }
    int fd = open(entry + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    int parked = fcntl(fd, F_DUPFD_CLOEXEC, PARK_FD);
    close(fd);
    return parked;
  }
  int flags = entry[0] == 'w' ? O_WRONLY : O_RDONLY;
  if (entry[0] != 'r' && entry[0] != 'w') {
    errno = EINVAL;
    return -1;
  }
  /* Non-blocking, so a pipe whose other end the server does not hold fails instead of waiting. */
  int fd = open(entry + 1, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return -1;
  int parked = fcntl(fd, F_DUPFD_CLOEXEC, PARK_FD);
  close(fd);
  if (parked < 0) return -1;
  int status = fcntl(parked, F_GETFL);
  if (status < 0 || fcntl(parked, F_SETFL, status & ~O_NONBLOCK) != 0) {
    close(parked);
    return -1;
  }
  return parked;
}

/* Splits `count` NUL-terminated strings off [cursor, end); returns 0 if they are not all there. */
static int split_strings(const char *cursor, const char *end, char **strings, uint32_t count) {
  for (uint32_t index = 0; index < count; index++) {
    const char *terminator = memchr(cursor, '\0', (size_t)(end - cursor));
    if (!terminator) return 0;
    strings[index] = (char *)cursor;
    cursor = terminator + 1;
  }
  return 1;
}

/*
 * Opens a mount target: an absolute path strictly below MOUNT_ROOT with no "." or ".." components and no symlink
 * anywhere (what the kernel resolved must be exactly the path given). Returns an O_PATH descriptor or -1.
 */
static int open_mount_target(const char *target) {
  size_t root_length = strlen(mount_root);
  if (strncmp(target, mount_root, root_length) != 0 || target[root_length] != '/' ||
      strstr(target, "/./") || strstr(target, "/../") || strstr(target, "//")) {
    errno = EPERM;
    return -1;
  }
  size_t length = strlen(target);
  if ((length >= 2 && strcmp(target + length - 2, "/.") == 0) ||
      (length >= 3 && strcmp(target + length - 3, "/..") == 0)) {
    errno = EPERM;
    return -1;
  }
  int fd = open(target, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  char link[64], resolved[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t resolved_length = readlink(link, resolved, sizeof resolved - 1);
  if (resolved_length < 0 || (size_t)resolved_length != length || memcmp(resolved, target, length) != 0) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

static void handle_mount(uint32_t id, uint32_t operation, const char *cursor, const char *end) {
  uint32_t type = 0;
  if (operation == OP_MOUNT) {
    if (end - cursor < (ptrdiff_t)sizeof type) {
      send_event(id, EVENT_FAILED, EINVAL);
      return;
    }
    memcpy(&type, cursor, sizeof type);
    cursor += sizeof type;
  }
  char *strings[2];
  if (!split_strings(cursor, end, strings, operation == OP_MOUNT ? 2 : 1) ||
      (operation == OP_MOUNT && type != MOUNT_TMPFS && type != MOUNT_OVERLAY)) {
    send_event(id, EVENT_FAILED, EINVAL);
    return;
  }
  int fd = open_mount_target(strings[0]);
  if (fd < 0) {
    send_event(id, EVENT_FAILED, errno);
    return;
  }
  char through_fd[64];
  snprintf(through_fd, sizeof through_fd, "/proc/self/fd/%d", fd);
  int result;
  if (operation == OP_MOUNT) {
    const char *filesystem = type == MOUNT_TMPFS ? "tmpfs" : "overlay";
    /* ".." of the target, even when something is mounted on it: the directory that holds it. */
    int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0 || fchdir(parent) != 0) result = -1;
    else result = mount(filesystem, through_fd, filesystem, MS_NOSUID | MS_NODEV, strings[1]);
    int error = errno;
    if (parent >= 0) close(parent);
    /* Spawned children inherit the working directory: back to the one they expect. */
    if (chdir("/") != 0) abort();
    errno = error;
  } else {
    /* The descriptor pins the mount point's dentry, not the mount on it: detach by path, checked above. */
    result = umount2(strings[0], MNT_DETACH | UMOUNT_NOFOLLOW);
  }
  int error = result == 0 ? 0 : errno;
  close(fd);
  if (error != 0) send_event(id, EVENT_FAILED, error);
  else send_event(id, EVENT_DONE, 0);
}

/*
 * Opens `path` below the directory `root_fd` one segment at a time, following no symbolic link and never leaving the
 * root; with `create`, makes a missing segment (mode 0755, owned by uid:gid) first. Returns an O_PATH descriptor.
 */
static int open_beneath(int root_fd, char *path, int create, uid_t uid, gid_t gid) {
  int directory = dup(root_fd);
  if (directory < 0) return -1;
  for (char *segment = strtok(path, "/"); segment; segment = strtok(NULL, "/")) {
    if (strcmp(segment, ".") == 0 || strcmp(segment, "..") == 0) {
      close(directory);
      errno = EPERM;
      return -1;
    }
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int next = (int)syscall(SYS_openat2, directory, segment, &how, sizeof how);
    if (next < 0 && errno == ENOENT && create) {
      /* The O_PATH descriptor of the parent cannot make entries: the parent is opened for that, without following. */
      int parent = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int made = parent >= 0 && mkdirat(parent, segment, 0755) == 0 && fchownat(parent, segment, uid, gid, AT_SYMLINK_NOFOLLOW) == 0;
      int error = errno;
      if (parent >= 0) close(parent);
      if (!made && error != EEXIST) {
        close(directory);
        errno = error;
        return -1;
      }
      next = (int)syscall(SYS_openat2, directory, segment, &how, sizeof how);
    }
    int error = errno;
    close(directory);
    if (next < 0) {
      errno = error;
      return -1;
    }
    directory = next;
  }
  return directory;
}

static void handle_bind(uint32_t id, const char *cursor, const char *end) {
  uint32_t fields[3];
  char *strings[3];
  if (end - cursor < (ptrdiff_t)sizeof fields) {
    send_event(id, EVENT_FAILED, EINVAL);
    return;
  }
  memcpy(fields, cursor, sizeof fields);
  cursor += sizeof fields;
  if (!split_strings(cursor, end, strings, 3) || strings[0][0] != '/') {
    send_event(id, EVENT_FAILED, EINVAL);
    return;
  }
  int target = open_mount_target(strings[2]);
  if (target < 0) {
    send_event(id, EVENT_FAILED, errno);
    return;
  }
  int error = 0, source = -1, tree = -1;
  int root = open(strings[0], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) error = errno;
  if (!error) {
    source = open_beneath(root, strings[1], fields[0] & BIND_CREATE, fields[1], fields[2]);
    if (source < 0) error = errno;
  }
  if (!error) {
    tree = (int)syscall(SYS_open_tree, source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) error = errno;
  }
  if (!error) {
    struct mount_attr attributes = {
        .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | ((fields[0] & BIND_READ_ONLY) ? MOUNT_ATTR_RDONLY : 0),
    };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attributes, sizeof attributes) != 0 ||
        syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
      error = errno;
    }
  }
  if (tree >= 0) close(tree);
  if (source >= 0) close(source);
  if (root >= 0) close(root);
  close(target);
  if (error != 0) send_event(id, EVENT_FAILED, error);
  else send_event(id, EVENT_DONE, 0);
}

static void handle_spawn(uint32_t id, uint32_t operation, const char *cursor, const char *end,
                         const sigset_t *original_mask) {
  uint32_t header[5];
  if (end - cursor < (ptrdiff_t)sizeof header) {
    send_event(id, EVENT_FAILED, EINVAL);
    return;
  }
  memcpy(header, cursor, sizeof header);
  cursor += sizeof header;
  uint32_t file_count = header[2], cgroup_count = header[3], argument_count = header[4];
  int as_root = operation == OP_COMMAND;
  uid_t uid = as_root ? 0 : header[0];
  gid_t gid = as_root ? 0 : header[1];
  if (file_count > MAX_FILES || cgroup_count > MAX_CGROUPS || argument_count == 0 ||
      argument_count > MAX_ARGUMENTS || (!as_root && (uid == 0 || gid == 0)) || (as_root && cgroup_count != 0)) {
    send_event(id, EVENT_FAILED, EINVAL);
    return;
  }
  uint32_t total = file_count + cgroup_count + argument_count;
  char *strings[MAX_FILES + MAX_CGROUPS + MAX_ARGUMENTS + 1];
  if (!split_strings(cursor, end, strings, total)) {
    send_event(id, EVENT_FAILED, EINVAL);
    return;
  }
  strings[total] = NULL;
  char **arguments = strings + file_count + cgroup_count;
  if (arguments[0][0] != '/' || (as_root && !is_command(arguments[0]))) {
    send_event(id, EVENT_FAILED, arguments[0][0] == '/' ? EPERM : EINVAL);
    return;
  }

  int parked[MAX_FILES];
  uint32_t opened = 0;
  int error = 0;
  for (; opened < file_count; opened++) {
    parked[opened] = open_file(strings[opened]);
    if (parked[opened] < 0) {
      error = errno;
      break;
    }
  }
  pid_t pid = -1;
  if (error == 0) {
    pid_t spawner = getpid();
    pid = fork();
    if (pid == 0) {
      run_child(uid, gid, parked, strings, file_count, strings + file_count, cgroup_count, arguments, spawner,
                original_mask);
    }
    if (pid < 0) error = errno;
  }
  for (uint32_t index = 0; index < opened; index++) close(parked[index]);
  if (error != 0) {
    send_event(id, EVENT_FAILED, error);
    return;
  }
  remember(pid, id);
  send_event(id, EVENT_STARTED, pid);
}

static void handle_request(const char *payload, uint32_t length, const sigset_t *original_mask) {
  uint32_t header[2];
  if (length < sizeof header) {
    fprintf(stderr, "airlock-spawner: request too short\n");
    _exit(127);
  }
  memcpy(header, payload, sizeof header);
  const char *cursor = payload + sizeof header, *end = payload + length;
  if (header[1] == OP_SPAWN || header[1] == OP_COMMAND) handle_spawn(header[0], header[1], cursor, end, original_mask);
  else if (header[1] == OP_MOUNT || header[1] == OP_UNMOUNT) handle_mount(header[0], header[1], cursor, end);
  else if (header[1] == OP_BIND) handle_bind(header[0], cursor, end);
  else send_event(header[0], EVENT_FAILED, EINVAL);
}

int main(int argc, char **argv) {
  if (argc != 2 || argv[1][0] != '/' || strlen(argv[1]) < 2) {
    fprintf(stderr, "usage: airlock-spawner MOUNT_ROOT (an absolute path)\n");
    return 127;
  }
  mount_root = argv[1];
  pid_t server = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fatal("PR_SET_PDEATHSIG");
  if (getppid() != server) _exit(127); /* the server died before the line above */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fatal("PR_SET_CHILD_SUBREAPER");
  if (syscall(SYS_close_range, 3, ~0U, 0) != 0) fatal("close_range");
  signal(SIGPIPE, SIG_IGN);

  sigset_t child_signal, original_mask;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &child_signal, &original_mask) != 0) fatal("sigprocmask");
  int signal_fd = signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) fatal("signalfd");

  char *payload = malloc(MAX_REQUEST_BYTES);
  if (!payload) fatal("malloc");
  struct pollfd watched[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = signal_fd, .events = POLLIN}};
  for (;;) {
    if (poll(watched, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if (watched[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof info) == sizeof info) {
      }
      reap();
    }
    if (watched[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      uint32_t length;
      if (!read_exact(STDIN_FILENO, &length, sizeof length)) return 0;
      if (length > MAX_REQUEST_BYTES) {
        fprintf(stderr, "airlock-spawner: request of %u bytes is too large\n", length);
        return 127;
      }
      read_exact(STDIN_FILENO, payload, length);
      handle_request(payload, length, &original_mask);
    }
  }
}
