/*
 * Errno oracle: a C program run inside a real bubblewrap sandbox that calls
 * syscalls through syscall(2) with harmless or invalid arguments and reports
 * each call's errno. Under the filter, denied syscalls must fail with exactly
 * EPERM (clone3 with ENOSYS) while allowed ones reach the kernel and fail with
 * the kernel's own errno (EBADF, EFAULT, EINVAL, ...) or succeed.
 *
 * The same oracle also runs without --seccomp as a control, and the test
 * evaluates the BPF program itself on every probe's (nr, args), which tells a
 * filter EPERM apart from a kernel EPERM (for example kexec_load without
 * CAP_SYS_BOOT in the initial user namespace).
 *
 * Output lines, tab-separated:
 *   probe  <label>  <nr>  <a0..a5 as hex>  <ok | errno name>
 *   probe  <label>  absent                 (syscall not defined on this ABI)
 *   arch   <label>  <exit:N | signal:NAME | unsupported>
 *   status <field>  <value>                (from /proc/self/status)
 *   done
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

extern char **environ;

enum kind { PLAIN, FD, CHILD, PERSONA };

static const char *err_name(int e) {
  const char *name = strerrorname_np(e);
  return name ? name : "E?";
}

static void probe(enum kind kind, const char *label, long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  const long a[6] = {a0, a1, a2, a3, a4, a5};
  errno = 0;
  long r = syscall(nr, a0, a1, a2, a3, a4, a5);
  int e = errno;
  if (kind == CHILD && r == 0) _exit(0);
  if (kind == CHILD && r > 0) waitpid((pid_t)r, NULL, __WALL);
  if (kind == FD && r >= 0) close((int)r);
  if (kind == PERSONA && r >= 0) syscall(SYS_personality, r);
  printf("probe\t%s\t%ld", label, nr);
  for (int i = 0; i < 6; i++) printf("\t%lx", (unsigned long)a[i]);
  printf("\t%s\n", r == -1 ? err_name(e) : "ok");
}

__attribute__((unused)) static void absent(const char *label) { printf("probe\t%s\tabsent\n", label); }

static void report_child(const char *label, pid_t pid) {
  int status = 0;
  if (pid < 0) {
    printf("arch\t%s\tfork-failed:%s\n", label, err_name(errno));
    return;
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) printf("arch\t%s\tsignal:%s\n", label, sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
  else printf("arch\t%s\texit:%d\n", label, WEXITSTATUS(status));
}

static void *thread_main(void *arg) { return arg; }

static void probe_pthread(void) {
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, thread_main, NULL);
  if (rc == 0) pthread_join(thread, NULL);
  printf("probe\tpthread_create\t-1\t0\t0\t0\t0\t0\t0\t%s\n", rc == 0 ? "ok" : err_name(rc));
}

static void probe_posix_spawn(void) {
  pid_t pid;
  char *argv[] = {"true", NULL};
  int rc = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
  int status = 0;
  if (rc == 0) waitpid(pid, &status, 0);
  const char *result = rc != 0 ? err_name(rc) : (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? "ok" : "EXITED-BADLY";
  printf("probe\tposix_spawn\t-1\t0\t0\t0\t0\t0\t0\t%s\n", result);
}

static void print_status(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (!f) { printf("status\terror\t%s\n", err_name(errno)); return; }
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = '\0';
    if (strcmp(line, "Seccomp") && strcmp(line, "Seccomp_filters") && strcmp(line, "NoNewPrivs")) continue;
    char *value = colon + 1;
    value += strspn(value, " \t");
    value[strcspn(value, "\n")] = '\0';
    printf("status\t%s\t%s\n", line, value);
  }
  fclose(f);
}

#define P(kind, label, sys, a0, a1, a2, a3, a4, a5) \
  probe(kind, label, SYS_##sys, (long)(a0), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5))
#define BAD ((long)1)

int main(void) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  setvbuf(stdout, NULL, _IOLBF, 0);
  print_status();

  int arg = 0;
  long pid = getpid();
  long slash = (long)"/";
  long argp = (long)&arg;

  /* Expected: denied by the filter with EPERM. */
  P(PLAIN, "ptrace", ptrace, PTRACE_ATTACH, 0, 0, 0, 0, 0);
  P(PLAIN, "process_vm_readv", process_vm_readv, pid, 0, 0, 0, 0, 1);
  P(PLAIN, "process_vm_writev", process_vm_writev, pid, 0, 0, 0, 0, 1);
  P(PLAIN, "process_madvise", process_madvise, -1, 0, 0, 0, 1, 0);
  P(PLAIN, "kcmp", kcmp, pid, pid, 99, 0, 0, 0);
  P(PLAIN, "pidfd_getfd", pidfd_getfd, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "keyctl", keyctl, 0x7fffffff, 0, 0, 0, 0, 0);
  P(PLAIN, "add_key", add_key, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "request_key", request_key, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "bpf", bpf, 0x7fffffff, 0, 0, 0, 0, 0);
  P(PLAIN, "perf_event_open", perf_event_open, 0, 0, -1, -1, 0, 0);
  P(PLAIN, "userfaultfd", userfaultfd, 1 | 4, 0, 0, 0, 0, 0);
  P(PLAIN, "io_uring_setup", io_uring_setup, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "io_uring_enter", io_uring_enter, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "io_uring_register", io_uring_register, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "mount", mount, BAD, slash, 0, 0, 0, 0);
  P(PLAIN, "umount2", umount2, slash, 0x7fffffff, 0, 0, 0, 0);
  P(PLAIN, "pivot_root", pivot_root, BAD, BAD, 0, 0, 0, 0);
  P(PLAIN, "chroot", chroot, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "unshare", unshare, CLONE_NEWUSER | 1, 0, 0, 0, 0, 0);
  P(PLAIN, "setns", setns, -1, CLONE_NEWNET, 0, 0, 0, 0);
  P(PLAIN, "fsopen", fsopen, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "fsmount", fsmount, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "fsconfig", fsconfig, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "fspick", fspick, -1, BAD, 0, 0, 0, 0);
  P(PLAIN, "move_mount", move_mount, -1, BAD, -1, BAD, 0, 0);
  P(PLAIN, "open_tree", open_tree, -1, BAD, 0xffffffff, 0, 0, 0);
  P(PLAIN, "mount_setattr", mount_setattr, -1, BAD, 0, 0, 0, 0);
  P(PLAIN, "kexec_load", kexec_load, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "kexec_file_load", kexec_file_load, -1, -1, 0, 0, 0, 0);
  P(PLAIN, "init_module", init_module, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "finit_module", finit_module, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "delete_module", delete_module, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "reboot", reboot, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "swapon", swapon, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "swapoff", swapoff, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "syslog", syslog, 10, 0, 0, 0, 0, 0);
  P(PLAIN, "acct", acct, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "quotactl", quotactl, 0, 0, 0, 0, 0, 0);
#ifdef SYS_lookup_dcookie
  P(PLAIN, "lookup_dcookie", lookup_dcookie, 0, 0, 0, 0, 0, 0);
#else
  absent("lookup_dcookie");
#endif
  P(PLAIN, "name_to_handle_at", name_to_handle_at, AT_FDCWD, BAD, 0, 0, 0, 0);
  P(PLAIN, "open_by_handle_at", open_by_handle_at, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "fanotify_init", fanotify_init, 0xffffffff, 0, 0, 0, 0, 0);
  P(PLAIN, "fanotify_mark", fanotify_mark, -1, 0, 0, -1, 0, 0);
  P(PLAIN, "settimeofday", settimeofday, 0, BAD, 0, 0, 0, 0);
  P(PLAIN, "clock_settime", clock_settime, CLOCK_REALTIME, BAD, 0, 0, 0, 0);
  P(PLAIN, "clock_adjtime", clock_adjtime, CLOCK_REALTIME, BAD, 0, 0, 0, 0);
  P(PLAIN, "adjtimex", adjtimex, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "sethostname", sethostname, BAD, 5, 0, 0, 0, 0);
  P(PLAIN, "setdomainname", setdomainname, BAD, 5, 0, 0, 0, 0);
#ifdef SYS_iopl
  P(PLAIN, "iopl", iopl, 4, 0, 0, 0, 0, 0);
#else
  absent("iopl");
#endif
#ifdef SYS_ioperm
  P(PLAIN, "ioperm", ioperm, 0x10000, 1, 1, 0, 0, 0);
#else
  absent("ioperm");
#endif
  P(PLAIN, "vhangup", vhangup, 0, 0, 0, 0, 0, 0);
  P(PERSONA, "personality_addr_no_randomize", personality, 0x0040000, 0, 0, 0, 0, 0);
  P(PERSONA, "personality_bsd", personality, 0x0006, 0, 0, 0, 0, 0);
  P(CHILD, "clone_newuser", clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0, 0);
  P(CHILD, "clone_newns", clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0, 0);
  P(CHILD, "clone_newnet", clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0, 0);
  P(CHILD, "clone_newuser_high_bits", clone, (1L << 32) | CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0, 0);
  P(FD, "socket_vsock", socket, AF_VSOCK, SOCK_STREAM, 0, 0, 0, 0);
  P(FD, "socket_vsock_high_bits", socket, 0x100000000L | AF_VSOCK, SOCK_STREAM, 0, 0, 0, 0);
  P(PLAIN, "ioctl_tiocsti", ioctl, 0, TIOCSTI, argp, 0, 0, 0);
  P(PLAIN, "ioctl_tiocsti_high_bits", ioctl, 0, 0x100000000L | TIOCSTI, argp, 0, 0, 0);
  P(PLAIN, "ioctl_tioclinux", ioctl, 0, TIOCLINUX, argp, 0, 0, 0);

  /* Expected: ENOSYS from the filter, so that libc falls back to clone. */
  P(PLAIN, "clone3", clone3, 0, 0, 0, 0, 0, 0);

  /* Expected: allowed; the kernel's own result. */
  P(PLAIN, "getpid", getpid, 0, 0, 0, 0, 0, 0);
  P(PLAIN, "read_bad_fd", read, -1, 0, 0, 0, 0, 0);
  P(PLAIN, "openat_bad_pointer", openat, AT_FDCWD, BAD, O_RDONLY, 0, 0, 0);
  P(FD, "socket_unix", socket, AF_UNIX, SOCK_STREAM, 0, 0, 0, 0);
  P(FD, "socket_unix_high_bits", socket, 0x100000000L | AF_UNIX, SOCK_STREAM, 0, 0, 0, 0);
  P(FD, "socket_inet", socket, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
  P(CHILD, "clone_fork", clone, SIGCHLD, 0, 0, 0, 0, 0);
  P(CHILD, "clone_high_bits", clone, (1L << 32) | SIGCHLD, 0, 0, 0, 0, 0);
  P(PLAIN, "ioctl_fionread_bad_fd", ioctl, -1, FIONREAD, argp, 0, 0, 0);
  P(PLAIN, "ioctl_fionread_high_bits_bad_fd", ioctl, -1, 0x100000000L | FIONREAD, argp, 0, 0, 0);
  P(PLAIN, "ioctl_tiocgwinsz_devnull", ioctl, 0, TIOCGWINSZ, argp, 0, 0, 0);
  P(PLAIN, "ioctl_tiocsti_neighbour", ioctl, -1, TIOCSTI + 1, argp, 0, 0, 0);
  P(PLAIN, "ioctl_tiocsti_upper_half_differs", ioctl, -1, 0x80000000L | TIOCSTI, argp, 0, 0, 0);
  P(PERSONA, "personality_query", personality, 0xffffffff, 0, 0, 0, 0, 0);
  P(PERSONA, "personality_linux", personality, 0, 0, 0, 0, 0, 0);
  P(FD, "memfd_create_bad_pointer", memfd_create, BAD, 0, 0, 0, 0, 0);
  P(PLAIN, "mknodat_bad_pointer", mknodat, AT_FDCWD, BAD, 0, 0, 0, 0);
  probe_pthread();
  probe_posix_spawn();

  /* Expected: killed by SIGSYS, the bad-architecture action. */
#if defined(__x86_64__)
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    _exit(r > 0 ? 0 : 1);
  }
  report_child("i386_int80_getpid", child);
  child = fork();
  if (child == 0) {
    long r = syscall(0x40000000L | SYS_getpid);
    _exit(r >= 0 ? 0 : errno == ENOSYS ? 1 : 2);
  }
  report_child("x32_getpid", child);
#else
  printf("arch\ti386_int80_getpid\tunsupported\n");
  printf("arch\tx32_getpid\tunsupported\n");
#endif
  printf("done\n");
  return 0;
}
