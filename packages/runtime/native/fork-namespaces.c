/*
 * airlock-fork-namespaces: the fork template's namespace maker (docs/decisions/0033-fork-tier.md).
 *
 * Started once by each python fork template, before its imports, inside the template's sandbox, with the template's
 * capabilities (CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_NET_ADMIN, CAP_SETPCAP, CAP_SYS_RESOURCE in the template's user
 * namespace) and an empty environment. It runs no user code. Descriptors:
 *   0  requests, one per line: "NAME IMAGE HOME DATA TMP_BYTES", paths relative to the template's view of the server's
 *      mounts (FORK_MOUNTS);
 *   1  replies, one per request: "NAME PID" (the new pid 1, in the template's pid namespace) or "NAME 0 ERROR";
 *   2  diagnostics (the template's stderr).
 * For a request it makes one execution's pid 1: a child in new pid, mount, UTS, IPC and network namespaces that
 * builds the execution's own root in them (the image read-only, a /dev with the usual devices, a
 * new /proc, tmpfs /tmp, /dev/shm and /run, the execution's home and /data), pivots into it and detaches the
 * template's tree, sets the template's user namespace's max_user_namespaces to 0, brings loopback up, drops every
 * capability, sets no_new_privs and applies a seccomp filter of its own that allows only reporting and waiting (the
 * execution's filter is the interpreter's). It then reports and waits, holding the namespaces while the kernel reaps
 * the execution's orphans (SIGCHLD ignored), until the template kills it. Each pid 1 is a
 * fork of this small static process, so it costs a few pages, and holds no descriptor and no other request: the
 * execution's code can read a pid 1's descriptors and memory through /proc/1.
 * Exits when fd 0 closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MOUNTS "/run/airlock-fork/mounts"
#define ROOT "/tmp"
#define RUN_BYTES (4 * 1024 * 1024)
#define LINE_MAX_BYTES 8192
#define REPORT_MAX 400

struct request {
  char name[64];
  char image[PATH_MAX];
  char home[PATH_MAX];
  char data[PATH_MAX];
  unsigned long long tmp_bytes;
};

static int cap_last;
/* Unparsed requests: scrubbed in each pid 1, which must hold no other execution's request. */
static char pending[LINE_MAX_BYTES];
static size_t pending_bytes;

static void die(const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  fputs("airlock-fork-namespaces: ", stderr);
  vfprintf(stderr, format, arguments);
  fputc('\n', stderr);
  va_end(arguments);
  exit(1);
}

static void write_all(int fd, const char *bytes, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, bytes, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) die("write: %s", strerror(errno));
    bytes += written;
    length -= (size_t)written;
  }
}

/* pid 1's failure: the step and its error on the ready pipe, then exit. */
static _Noreturn void fail(int ready, const char *what, const char *path) {
  char report[REPORT_MAX];
  int length = snprintf(report, sizeof report, "%s%s%s: %s", what, path ? " " : "", path ? path : "", strerror(errno));
  (void)!write(ready, report, length < (int)sizeof report ? (size_t)length : sizeof report - 1);
  _exit(1);
}

static void must(int result, int ready, const char *what, const char *path) {
  if (result != 0) fail(ready, what, path);
}

/* `prefix` followed by `suffix`, in one of two rotating buffers (a mount's source and target may both need one). */
static const char *below(const char *prefix, const char *suffix) {
  static char buffers[2][PATH_MAX];
  static int next;
  char *buffer = buffers[next ^= 1];
  if (snprintf(buffer, PATH_MAX, "%s%s", prefix, suffix) >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return NULL;
  }
  return buffer;
}

static void mount_at(int ready, const char *source, const char *target, const char *type, unsigned long flags,
                     const char *data) {
  if (target == NULL || source == NULL) fail(ready, "a path below", ROOT);
  if (mount(source, target, type, flags, data) != 0) {
    char mounted[2 * PATH_MAX + 8];
    snprintf(mounted, sizeof mounted, "%s on %s", source, target);
    fail(ready, "mount", mounted);
  }
}

/* The execution's root, as bubblewrap builds a fresh sandbox's, made at ROOT and pivoted into. */
static void make_zones(int ready, const struct request *request) {
  char option[64];
  must(mount("none", "/", NULL, MS_REC | MS_SLAVE, NULL), ready, "mount", "/");
  /* Non-recursive binds of mounts without children: the image's overlay, the home and /data the server made. */
  mount_at(ready, below(MOUNTS "/", request->image), ROOT, NULL, MS_BIND, NULL);
  mount_at(ready, "none", ROOT, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
  /* Binds of the server's mounts (slaves of them): what the server mounts there later reaches the execution. */
  mount_at(ready, below(MOUNTS "/", request->home), ROOT "/home/sandbox", NULL, MS_BIND, NULL);
  mount_at(ready, below(MOUNTS "/", request->data), ROOT "/data", NULL, MS_BIND, NULL);
  mount_at(ready, "proc", ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_at(ready, "tmpfs", ROOT "/dev", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=65536");
  static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    const char *target = below(ROOT "/dev/", devices[i]);
    int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fail(ready, "create", target);
    close(fd);
    mount_at(ready, below("/dev/", devices[i]), target, NULL, MS_BIND, NULL);
  }
  must(mkdir(ROOT "/dev/shm", 0755), ready, "mkdir", ROOT "/dev/shm");
  must(mkdir(ROOT "/dev/pts", 0755), ready, "mkdir", ROOT "/dev/pts");
  static const char *const links[][2] = {
      {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"},
      {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    const char *link = below(ROOT "/dev/", links[i][0]);
    must(symlink(links[i][1], link), ready, "symlink", link);
  }
  mount_at(ready, "devpts", ROOT "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620");
  snprintf(option, sizeof option, "mode=1777,size=%llu", request->tmp_bytes);
  mount_at(ready, "tmpfs", ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, option);
  mount_at(ready, "tmpfs", ROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, option);
  snprintf(option, sizeof option, "mode=0755,size=%d", RUN_BYTES);
  mount_at(ready, "tmpfs", ROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, option);
  must(mkdir(ROOT "/run/airlock", 0755), ready, "mkdir", ROOT "/run/airlock");
  must(mkdir(ROOT "/run/airlock/host", 0755), ready, "mkdir", ROOT "/run/airlock/host");
  mount_at(ready, "/run/airlock/host", ROOT "/run/airlock/host", NULL, MS_BIND, NULL);
  mount_at(ready, "none", ROOT "/run/airlock/host", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
           NULL);
  must(chdir(ROOT), ready, "chdir", ROOT);
  must((int)syscall(SYS_pivot_root, ".", "."), ready, "pivot_root", ROOT);
  must(umount2(".", MNT_DETACH), ready, "umount", "the template's root");
  must(chdir("/"), ready, "chdir", "/");
  /* No process of the template's user namespace may make another (as bubblewrap's --disable-userns). /proc's files
   * stay read-only to the execution: it has no capability left. */
  int limit = open("/proc/sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
  if (limit < 0 || write(limit, "0", 1) != 1) fail(ready, "write", "/proc/sys/user/max_user_namespaces");
  close(limit);
  /* Loopback up: SIOCSIFFLAGS with IFF_UP | IFF_LOOPBACK | IFF_RUNNING. */
  int handle = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq interface = {.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING};
  strcpy(interface.ifr_name, "lo");
  if (handle < 0 || ioctl(handle, SIOCSIFFLAGS, &interface) != 0) fail(ready, "bring up", "lo");
  close(handle);
}

#if defined(__x86_64__)
#define PID1_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PID1_ARCH AUDIT_ARCH_AARCH64
#else
#error "pid 1's seccomp filter names the syscalls of x86_64 and aarch64 only"
#endif
#define PID1_ALLOW(name) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_##name, 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* What pid 1 does once locked down: report on its ready pipe, close it, wait for signals it never handles, exit.
 * Anything else (another architecture's or x32's numbers included) kills it. The kernel compiles a filter for each
 * process that applies one, and this one is a small fraction of the execution's (docs/benchmarks.md, section 20). */
static const struct sock_filter pid1_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PID1_ARCH, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    PID1_ALLOW(write),
    PID1_ALLOW(close),
#ifdef __NR_pause
    PID1_ALLOW(pause),
#endif
    PID1_ALLOW(ppoll),
    PID1_ALLOW(rt_sigsuspend),
    PID1_ALLOW(rt_sigreturn),
    PID1_ALLOW(restart_syscall),
    PID1_ALLOW(exit),
    PID1_ALLOW(exit_group),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

/* Every capability goes (bounding set, ambient, then the process's own), then no_new_privs and pid 1's filter. */
static void lock_down(int ready) {
  for (int capability = 0; capability <= cap_last; capability++)
    must(prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), ready, "drop capability", NULL);
  must(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), ready, "clear ambient capabilities", NULL);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct none[2] = {{0}};
  must((int)syscall(SYS_capset, &header, none), ready, "capset", NULL);
  must(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ready, "no_new_privs", NULL);
  struct sock_fprog filter = {.len = sizeof pid1_filter / sizeof pid1_filter[0], .filter = (struct sock_filter *)pid1_filter};
  must(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0), ready, "seccomp", NULL);
}

static _Noreturn void pid1(int ready, const struct request *request) {
  /* Nothing of the maker's: no descriptor but the ready pipe, no request but its own. */
  if (ready > 0) close_range(0, (unsigned)ready - 1, 0);
  close_range((unsigned)ready + 1, ~0U, 0);
  explicit_bzero(pending, sizeof pending);
  prctl(PR_SET_NAME, "airlock-init", 0, 0, 0);
  must(setsid() < 0 ? -1 : 0, ready, "setsid", NULL);
  make_zones(ready, request);
  lock_down(ready);
  write_all(ready, "ok", 2);
  close(ready);
  for (;;) pause();
}

/* Makes one execution's pid 1 and writes the reply. */
static void make(const struct request *request) {
  char reply[64 + REPORT_MAX + 8];
  char report[REPORT_MAX + 1] = "";
  size_t report_bytes = 0;
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
  /* A fork (no stack given) that is pid 1 of new pid, mount, UTS, IPC and network namespaces. */
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD,
                             NULL, NULL, NULL, 0);
  if (pid == 0) pid1(ready[1], request);
  if (pid < 0) snprintf(report, sizeof report, "clone: %s", strerror(errno));
  close(ready[1]);
  if (pid > 0) {
    for (;;) {
      ssize_t got = read(ready[0], report + report_bytes, REPORT_MAX - report_bytes);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      report_bytes += (size_t)got;
    }
    report[report_bytes] = '\0';
  }
  close(ready[0]);
  int length;
  if (pid > 0 && strcmp(report, "ok") == 0) {
    length = snprintf(reply, sizeof reply, "%s %d\n", request->name, (int)pid);
  } else {
    for (char *c = report; *c; c++)
      if (*c == '\n') *c = ' ';
    length = snprintf(reply, sizeof reply, "%s 0 %s\n", request->name, report[0] ? report : "no pid 1");
  }
  write_all(1, reply, (size_t)length < sizeof reply ? (size_t)length : sizeof reply - 1);
}

static int parse(char *line, struct request *request) {
  char *fields[5];
  char *rest = line;
  for (int i = 0; i < 5; i++) {
    fields[i] = strsep(&rest, " ");
    if (fields[i] == NULL || fields[i][0] == '\0') return -1;
  }
  if (rest != NULL) return -1;
  if (snprintf(request->name, sizeof request->name, "%s", fields[0]) >= (int)sizeof request->name ||
      snprintf(request->image, PATH_MAX, "%s", fields[1]) >= PATH_MAX ||
      snprintf(request->home, PATH_MAX, "%s", fields[2]) >= PATH_MAX ||
      snprintf(request->data, PATH_MAX, "%s", fields[3]) >= PATH_MAX)
    return -1;
  char *end;
  errno = 0;
  request->tmp_bytes = strtoull(fields[4], &end, 10);
  return errno != 0 || *end != '\0' ? -1 : 0;
}

int main(void) {
  prctl(PR_SET_NAME, "fork-namespaces", 0, 0, 0);
  close_range(3, ~0U, 0);
  FILE *file = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (file == NULL || fscanf(file, "%d", &cap_last) != 1) die("cannot read cap_last_cap");
  fclose(file);
  /* Each pid 1 is reaped by the kernel when the template kills it, and each inherits this: orphans of its execution
   * are reaped by the kernel too. */
  struct sigaction ignore = {.sa_handler = SIG_IGN};
  sigaction(SIGCHLD, &ignore, NULL);
  for (;;) {
    char *newline;
    while ((newline = memchr(pending, '\n', pending_bytes)) != NULL) {
      struct request request;
      *newline = '\0';
      size_t consumed = (size_t)(newline - pending) + 1;
      if (parse(pending, &request) != 0) die("malformed request");
      memmove(pending, pending + consumed, pending_bytes - consumed);
      pending_bytes -= consumed;
      make(&request);
    }
    if (pending_bytes == sizeof pending) die("a request longer than %d bytes", LINE_MAX_BYTES);
    ssize_t got = read(0, pending + pending_bytes, sizeof pending - pending_bytes);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) die("reading requests: %s", strerror(errno));
    if (got == 0) return 0;
    pending_bytes += (size_t)got;
  }
}
