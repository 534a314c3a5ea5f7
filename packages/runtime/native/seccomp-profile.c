/*
 * airlock-seccomp: writes the Airlock sandbox's seccomp policy as a raw
 * classic-BPF program (an array of struct sock_filter), the format that
 * `bwrap --seccomp FD` reads.
 *
 * Usage: airlock-seccomp [-v] [-p] [-t] [OUTPUT]
 *   OUTPUT  file to write; standard output when omitted.
 *   -v      report allowlist names that the installed libseccomp does not
 *           know to standard error (they are otherwise skipped silently).
 *   -p      write libseccomp's human-readable pseudo filter code instead of
 *           BPF, for review.
 *   -t      the fork template's policy instead of the sandbox's (below).
 *
 * Policy: a default-deny allowlist modelled on Docker's default profile.
 *   - Default action ERRNO(EPERM).
 *   - Only the native architecture is in the filter; any other audit arch
 *     (for example i386 via `int $0x80` on x86_64) and x32 syscall numbers
 *     (nr | 0x40000000) hit the bad-architecture action, KILL_PROCESS.
 *   - No-new-privs is not requested by the filter: bubblewrap sets it.
 *
 * libseccomp constraints that shape the rules below:
 *   - A rule whose action equals the default action is rejected with
 *     -EACCES, so every EPERM outcome comes from the default action and
 *     every argument-filtered syscall is expressed as ALLOW rules that cover
 *     exactly the permitted argument values.
 *   - Once a syscall has an unconditional rule, conditional rules with a
 *     different action on the same syscall are discarded (seccomp_rule_add
 *     still returns 0), in either order of adding them.
 *   - Argument comparisons are 64-bit, while the kernel truncates int and
 *     unsigned int arguments (socket's domain, ioctl's cmd, personality) to
 *     their low 32 bits. SCMP_CMP_NE on such an argument therefore matches
 *     0x100000028 although the kernel sees 40. The deny-by-value rules use
 *     masked comparisons on the low 32 bits only (see allow_unless_low32_in).
 *
 * The fork template's policy (docs/decisions/0033-fork-tier.md) is the
 * sandbox's plus what the template, its namespace maker and its forks' pid 1s
 * do to build a fork's namespaces: mount, umount2, pivot_root, unshare and
 * clone making any namespace but a user namespace, and setns naming one
 * namespace type other than user. Forks apply the sandbox's policy on top of it (filters
 * stack; the stricter verdict wins), so code in a fork gets the sandbox's.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* TIOCSTI pushes bytes into a terminal's input queue; TIOCLINUX reaches the
 * virtual console (selection paste among others). Both can inject input into
 * a terminal owned by someone else. Values are the same on x86 and arm64. */
#define AIRLOCK_TIOCSTI 0x5412u
#define AIRLOCK_TIOCLINUX 0x541Cu

/* clone's flags are argument 0 on every ABI libseccomp supports except
 * s390/s390x (argument 1). */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

/* clone flags that create namespaces (Docker's 0x7E020000). */
#define AIRLOCK_CLONE_NS_FLAGS                                                 \
	((scmp_datum_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |            \
			CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |          \
			CLONE_NEWCGROUP))

#define LOW32 ((scmp_datum_t)0xffffffffu)

/*
 * Syscalls allowed with any arguments: Docker's default unconditional
 * allowlist, without the entries this policy denies (adjtimex,
 * clock_adjtime, clock_adjtime64, fanotify_mark, name_to_handle_at,
 * io_uring_*), plus a few recent syscalls. The list covers every Linux ABI
 * Docker covers; names that are not syscalls on the native ABI (for example
 * the 32-bit chown32 or socketcall on x86_64) resolve to libseccomp
 * pseudo-numbers and are skipped, as are names the installed libseccomp does
 * not know.
 */
static const char *const allowed_syscalls[] = {
	"accept", "accept4", "access", "alarm", "bind", "brk", "cachestat",
	"capget", "capset", "chdir", "chmod", "chown", "chown32",
	"clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
	"close", "close_range", "connect", "copy_file_range", "creat", "dup",
	"dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
	"exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
	"fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown",
	"fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
	"flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
	"fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
	"ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
	"futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
	"getdents", "getdents64", "getegid", "getegid32", "geteuid",
	"geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
	"getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
	"getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
	"getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
	"getsockname", "getsockopt", "get_thread_area", "gettid",
	"gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
	"inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
	"io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset",
	"landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link",
	"linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
	"map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
	"mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
	"mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
	"mq_open", "mq_timedreceive", "mq_timedreceive_time64",
	"mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
	"msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "nanosleep", "newfstatat", "_newselect",
	"open", "openat", "openat2", "pause", "pidfd_open",
	"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
	"pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
	"preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
	"pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
	"readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
	"recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
	"removexattr", "rename", "renameat", "renameat2", "restart_syscall",
	"rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
	"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity",
	"sched_getattr", "sched_getparam", "sched_get_priority_max",
	"sched_get_priority_min", "sched_getscheduler",
	"sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam",
	"sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
	"semget", "semop", "semtimedop", "semtimedop_time64", "send",
	"sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
	"setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
	"setgroups", "setgroups32", "setitimer", "setpgid", "setpriority",
	"setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
	"setresuid32", "setreuid", "setreuid32", "setrlimit",
	"set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
	"shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
	"signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
	"splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
	"symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
	"tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
	"timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime",
	"timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
	"tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
	"unlink", "unlinkat", "utime", "utimensat", "utimensat_time64",
	"utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
	"writev",
#if defined(__x86_64__) || defined(__i386__)
	"arch_prctl", "modify_ldt",
#endif
#if defined(__arm__) || defined(__aarch64__)
	"breakpoint", "cacheflush", "set_tls", "sync_file_range2",
#endif
};

/* personality(2) values Docker allows: PER_LINUX, UNAME26, PER_LINUX32,
 * PER_LINUX32|UNAME26, and 0xffffffff (query the current persona). */
static const scmp_datum_t allowed_personalities[] = {
	0x0, 0x0008, 0x20000, 0x20008, 0xffffffff,
};

static int verbose;
static int pfc;
static int template_policy;

/* Namespace types the template makes and joins for its forks. */
static const scmp_datum_t template_namespaces[] = {
	CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWCGROUP,
};

static void die_rc(const char *what, int rc)
{
	fprintf(stderr, "airlock-seccomp: %s: %s\n", what, strerror(-rc));
	exit(1);
}

/* Native syscall number for name, or -1 when the name is unknown to
 * libseccomp or is not a syscall on the native ABI (pseudo-number). */
static int resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR) {
		if (verbose)
			fprintf(stderr,
				"airlock-seccomp: libseccomp does not know "
				"'%s'; skipped\n",
				name);
		return -1;
	}
	return nr < 0 ? -1 : nr;
}

/* Native syscall number for a name the policy cannot do without. */
static int resolve_required(const char *name)
{
	int nr = resolve(name);

	if (nr < 0) {
		fprintf(stderr,
			"airlock-seccomp: syscall '%s' does not resolve on the "
			"native architecture\n",
			name);
		exit(1);
	}
	return nr;
}

static void add_rule(scmp_filter_ctx ctx, uint32_t action, int nr,
		     unsigned int arg_cnt, const struct scmp_arg_cmp *args)
{
	int rc = seccomp_rule_add_exact_array(ctx, action, nr, arg_cnt, args);

	if (rc < 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
							      nr);
		char what[128];

		snprintf(what, sizeof(what), "adding a rule for %s",
			 name ? name : "?");
		free(name);
		die_rc(what, rc);
	}
}

/*
 * Emits ALLOW rules for `nr` that match every value of argument `arg` whose
 * low 32 bits are not in values[0..count). The upper 32 bits are ignored,
 * matching the kernel's truncation of int-typed arguments; the other values
 * fall through to the default action.
 *
 * libseccomp offers no masked not-equal comparison, so the complement is
 * built as a union of masked-equal cubes: walking the bits from 31 down to
 * 0 along the binary trie of `values`, each branch that no denied value
 * takes becomes one rule "bits above b equal the shared prefix, bit b has
 * the branch's value". A single denied value costs 32 rules; values with a
 * common prefix share the rules for that prefix.
 */
static void allow_unless_low32_in_rec(scmp_filter_ctx ctx, int nr,
				      unsigned int arg, const uint32_t *values,
				      size_t count, int bit, uint32_t mask,
				      uint32_t prefix)
{
	uint32_t sub[2][8];
	size_t n[2] = { 0, 0 };
	uint32_t bitval = (uint32_t)1 << bit;

	for (size_t i = 0; i < count; i++) {
		int side = (values[i] & bitval) ? 1 : 0;

		sub[side][n[side]++] = values[i];
	}
	for (int side = 0; side < 2; side++) {
		uint32_t cube_mask = mask | bitval;
		uint32_t cube_value = prefix | (side ? bitval : 0);

		if (n[side] == 0) {
			struct scmp_arg_cmp cmp = SCMP_CMP64(
				arg, SCMP_CMP_MASKED_EQ,
				(scmp_datum_t)cube_mask,
				(scmp_datum_t)cube_value);

			add_rule(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
		} else if (bit > 0) {
			allow_unless_low32_in_rec(ctx, nr, arg, sub[side],
						  n[side], bit - 1, cube_mask,
						  cube_value);
		}
	}
}

static void allow_unless_low32_in(scmp_filter_ctx ctx, int nr,
				  unsigned int arg, const uint32_t *values,
				  size_t count)
{
	if (count == 0 || count > 8) {
		fprintf(stderr, "airlock-seccomp: unsupported value count\n");
		exit(1);
	}
	allow_unless_low32_in_rec(ctx, nr, arg, values, count, 31, 0, 0);
}

/* Emits ALLOW rules for `nr` when the low 32 bits of argument `arg` equal
 * one of values[0..count) (the kernel truncates int arguments to them). */
static void allow_low32_in(scmp_filter_ctx ctx, int nr, unsigned int arg,
			   const scmp_datum_t *values, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct scmp_arg_cmp cmp =
			SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, LOW32, values[i]);

		add_rule(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
	}
}

/* What the fork template needs beyond the sandbox's policy. */
static void build_template_additions(scmp_filter_ctx ctx)
{
	static const char *const mounting[] = { "mount", "umount2",
						"pivot_root" };

	for (size_t i = 0; i < sizeof(mounting) / sizeof(mounting[0]); i++)
		add_rule(ctx, SCMP_ACT_ALLOW, resolve_required(mounting[i]), 0,
			 NULL);

	/* unshare: any namespaces but a user namespace (int flags: low 32
	 * bits). */
	{
		struct scmp_arg_cmp cmp = SCMP_CMP64(
			0, SCMP_CMP_MASKED_EQ, (scmp_datum_t)CLONE_NEWUSER, 0);

		add_rule(ctx, SCMP_ACT_ALLOW, resolve_required("unshare"), 1,
			 &cmp);
	}

	/* clone: also with namespace flags, but for a user namespace (the
	 * namespace maker's pid 1s); a second rule, so either allows. */
	{
		struct scmp_arg_cmp cmp =
			SCMP_CMP64(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ,
				   (scmp_datum_t)CLONE_NEWUSER, 0);

		add_rule(ctx, SCMP_ACT_ALLOW, resolve_required("clone"), 1,
			 &cmp);
	}

	/* setns: one named namespace type; 0 (any type) would also join a
	 * user namespace. */
	allow_low32_in(ctx, resolve_required("setns"), 1, template_namespaces,
		       sizeof(template_namespaces) /
			       sizeof(template_namespaces[0]));
}

static void build_policy(scmp_filter_ctx ctx)
{
	int rc;

	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			      SCMP_ACT_KILL_PROCESS);
	if (rc < 0)
		die_rc("setting the bad-architecture action", rc);
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		die_rc("clearing SCMP_FLTATR_CTL_NNP", rc);

	for (size_t i = 0;
	     i < sizeof(allowed_syscalls) / sizeof(allowed_syscalls[0]); i++) {
		int nr = resolve(allowed_syscalls[i]);

		if (nr >= 0)
			add_rule(ctx, SCMP_ACT_ALLOW, nr, 0, NULL);
	}

	/* personality: only the listed personas (low 32 bits compared, as the
	 * kernel takes an unsigned int). */
	allow_low32_in(ctx, resolve_required("personality"), 0,
		       allowed_personalities,
		       sizeof(allowed_personalities) /
			       sizeof(allowed_personalities[0]));

	/* clone: allowed when no namespace flag is set. */
	{
		struct scmp_arg_cmp cmp = SCMP_CMP64(CLONE_FLAGS_ARG,
						     SCMP_CMP_MASKED_EQ,
						     AIRLOCK_CLONE_NS_FLAGS, 0);

		add_rule(ctx, SCMP_ACT_ALLOW, resolve_required("clone"), 1,
			 &cmp);
	}

	/* clone3: its flags live in a user-memory struct seccomp cannot
	 * inspect. ENOSYS makes glibc and other runtimes fall back to clone. */
	{
		int nr = resolve("clone3");

		if (nr >= 0)
			add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0, NULL);
	}

	/* socket: every domain except AF_VSOCK, which reaches the hypervisor
	 * host. AF_VSOCK gets the default EPERM, as under Docker's profile. */
	{
		static const uint32_t denied[] = { AF_VSOCK };

		allow_unless_low32_in(ctx, resolve_required("socket"), 0,
				      denied, 1);
	}

	/* ioctl: every request except TIOCSTI and TIOCLINUX, which get the
	 * default EPERM. */
	{
		static const uint32_t denied[] = { AIRLOCK_TIOCSTI,
						   AIRLOCK_TIOCLINUX };

		allow_unless_low32_in(ctx, resolve_required("ioctl"), 1,
				      denied, 2);
	}

	if (template_policy)
		build_template_additions(ctx);
}

int main(int argc, char **argv)
{
	const char *out_path = NULL;
	int out_fd = STDOUT_FILENO;
	int argi = 1;
	int rc;

	for (; argi < argc && argv[argi][0] == '-' && argv[argi][1] != '\0';
	     argi++) {
		if (strcmp(argv[argi], "-v") == 0) {
			verbose = 1;
		} else if (strcmp(argv[argi], "-p") == 0) {
			pfc = 1;
		} else if (strcmp(argv[argi], "-t") == 0) {
			template_policy = 1;
		} else {
			fprintf(stderr, "usage: %s [-v] [-p] [-t] [OUTPUT]\n",
				argv[0]);
			return 2;
		}
	}
	if (argi < argc)
		out_path = argv[argi++];
	if (argi < argc) {
		fprintf(stderr, "usage: %s [-v] [-p] [-t] [OUTPUT]\n", argv[0]);
		return 2;
	}

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (ctx == NULL) {
		fprintf(stderr, "airlock-seccomp: seccomp_init failed\n");
		return 1;
	}
	build_policy(ctx);

	if (out_path != NULL) {
		out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
		if (out_fd < 0) {
			fprintf(stderr, "airlock-seccomp: %s: %s\n", out_path,
				strerror(errno));
			return 1;
		}
	}
	rc = pfc ? seccomp_export_pfc(ctx, out_fd)
		 : seccomp_export_bpf(ctx, out_fd);
	if (rc < 0)
		die_rc(pfc ? "seccomp_export_pfc" : "seccomp_export_bpf", rc);
	if (out_path != NULL && close(out_fd) < 0) {
		fprintf(stderr, "airlock-seccomp: %s: %s\n", out_path,
			strerror(errno));
		return 1;
	}
	seccomp_release(ctx);
	return 0;
}
