// Command seccomp-profile writes the seccomp profile of Airlock's sandbox nodes (the chart's
// files/seccomp-profile.json) to standard output: containerd's default profile as containerd builds it for the
// container's capability list, plus pivot_root, which bubblewrap calls to enter each sandbox's root and which no
// capability opens in containerd's default.
//
// Run it from this directory: go run . > ../airlock/files/seccomp-profile.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// capabilities is the chart's list for the userNamespaces and capabilities modes, sandbox network included
// (templates/_security.tpl); SYS_ADMIN opens the namespace, mount and setns calls, SYS_CHROOT opens chroot.
var capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_MKNOD", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_CHROOT",
}

func main() {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: capabilities}}}
	profile := seccomp.DefaultProfile(spec)
	profile.Syscalls = append(profile.Syscalls, specs.LinuxSyscall{Names: []string{"pivot_root"}, Action: specs.ActAllow})
	encoded, err := json.MarshalIndent(profile, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s\n", encoded)
}
