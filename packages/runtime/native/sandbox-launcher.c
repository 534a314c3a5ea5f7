/*
 * airlock-launch: starts bubblewrap for one sandbox.
 *
 *   airlock-launch UID GID KEEP_FDS [CGROUP_PROCS_FILE ...] -- PROGRAM [ARG ...]
 *
 * Run as root by the server. It
 *   - closes every inherited descriptor above KEEP_FDS, so nothing the server
 *     inherited without close-on-exec reaches a sandbox;
 *   - becomes a child subreaper and forks: the child writes itself into each
 *     cgroup.procs file (so the whole sandbox is accounted and limited from
 *     its first instruction), drops to UID/GID with no supplementary groups,
 *     and execs PROGRAM;
 *   - reaps every descendant that is reparented to it (bubblewrap's monitor
 *     exits without reaping the sandbox's pid 1), and exits with PROGRAM's
 *     status: its exit code, or 128 + the signal that killed it.
 * It dies with its parent, and PROGRAM dies with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "airlock-launch: %s: %s\n", what, strerror(errno));
  _exit(127);
}

static long parse_number(const char *text, long max) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0 || value > max) {
    fprintf(stderr, "airlock-launch: invalid number '%s'\n", text);
    _exit(127);
  }
  return value;
}

static void join_cgroup(const char *procs_file) {
  int fd = open(procs_file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(procs_file);
  /* "0" means the writing process, on cgroup v1 and v2 alike. */
  if (write(fd, "0", 1) != 1) die(procs_file);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: airlock-launch UID GID KEEP_FDS [CGROUP_PROCS ...] -- PROGRAM [ARG ...]\n");
    return 127;
  }
  uid_t uid = (uid_t)parse_number(argv[1], 0x7fffffff);
  gid_t gid = (gid_t)parse_number(argv[2], 0x7fffffff);
  unsigned int keep_fds = (unsigned int)parse_number(argv[3], 1024);
  if (uid == 0 || gid == 0) {
    fprintf(stderr, "airlock-launch: refusing to run a sandbox as uid or gid 0\n");
    return 127;
  }
  int separator = 4;
  while (separator < argc && strcmp(argv[separator], "--") != 0) separator++;
  if (separator >= argc - 1) {
    fprintf(stderr, "airlock-launch: missing -- PROGRAM\n");
    return 127;
  }

  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG");
  if (getppid() != parent) _exit(127); /* the server died before the line above */
  if (syscall(SYS_close_range, keep_fds + 1, ~0U, 0) != 0) die("close_range");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("PR_SET_CHILD_SUBREAPER");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (int index = 4; index < separator; index++) join_cgroup(argv[index]);
    if (setgroups(0, NULL) != 0) die("setgroups");
    if (setresgid(gid, gid, gid) != 0) die("setresgid");
    if (setresuid(uid, uid, uid) != 0) die("setresuid");
    /* Cleared by the credential change above, so set after it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG");
    if (getppid() == 1) _exit(127);
    execv(argv[separator + 1], &argv[separator + 1]);
    die(argv[separator + 1]);
  }

  int child_status = 0;
  for (;;) {
    int status;
    pid_t reaped = waitpid(-1, &status, 0);
    if (reaped < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;
      die("waitpid");
    }
    if (reaped == child) child_status = status;
  }
  if (WIFEXITED(child_status)) return WEXITSTATUS(child_status);
  if (WIFSIGNALED(child_status)) return 128 + WTERMSIG(child_status);
  return 127;
}
