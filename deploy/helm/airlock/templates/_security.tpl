{{/*
The security modes (README.md, "Security modes"). The capabilities are what the server does as root
(packages/runtime/src/host/host-checks.ts NEEDED_CAPABILITIES, which `airlock doctor` and `serve` require):
  CHOWN, DAC_OVERRIDE, FOWNER  thread homes and layers owned by the sandbox user, files of any owner read and replaced
  KILL                         signals to sandbox processes, which run as another user
  SETUID, SETGID               the spawner drops to the sandbox user before it runs bubblewrap
  SYS_ADMIN                    tmpfs and overlay mounts of homes and image roots, setns into a slot's network
                               namespace, `ip netns`, FUSE mounts of buckets
and what its helpers do:
  SETFCAP                      an imported image's file capabilities are removed (security.capability)
  SYS_CHROOT, MKNOD            mmdebstrap builds the runtime images in a chroot, with device nodes where it may
  NET_ADMIN                    (sandbox network) veth pairs, addresses, routes, tc shaping, the nftables table,
                               conntrack entries, IPv4 forwarding of the pod's network namespace
  NET_BIND_SERVICE             (sandbox network) each slot's DNS resolver listens on port 53 of its gateway
userNamespaces also sets procMount Unmasked: bubblewrap mounts a new /proc for each sandbox, which the kernel refuses
in a user namespace while parts of the container's /proc are masked (Kubernetes allows Unmasked only with hostUsers
false, so the capabilities mode cannot set it).
*/}}
{{- define "airlock.capabilities" -}}
- CHOWN
- DAC_OVERRIDE
- FOWNER
- KILL
- MKNOD
{{- if .Values.config.network.enabled }}
- NET_ADMIN
- NET_BIND_SERVICE
{{- end }}
- SETFCAP
- SETGID
- SETUID
- SYS_ADMIN
- SYS_CHROOT
{{- end -}}

{{/* hostUsers of the pod spec. */}}
{{- define "airlock.hostUsers" -}}
{{- if eq .Values.security.mode "userNamespaces" -}}false{{- else -}}true{{- end -}}
{{- end -}}

{{- define "airlock.profile" -}}
type: {{ .type }}
{{- if eq .type "Localhost" }}
localhostProfile: {{ required "a Localhost profile needs its localhostProfile (a path below the node's profile directory)" .localhostProfile }}
{{- end }}
{{- end -}}

{{/* securityContext of the server and doctor containers. */}}
{{- define "airlock.containerSecurityContext" -}}
{{- if eq .Values.security.mode "privileged" -}}
privileged: true
allowPrivilegeEscalation: true
runAsUser: 0
runAsNonRoot: false
{{- else -}}
allowPrivilegeEscalation: true
runAsUser: 0
runAsNonRoot: false
capabilities:
  drop:
    - ALL
  add:
    {{- include "airlock.capabilities" . | nindent 4 }}
seccompProfile:
  {{- include "airlock.profile" .Values.security.seccompProfile | nindent 2 }}
appArmorProfile:
  {{- include "airlock.profile" .Values.security.appArmorProfile | nindent 2 }}
{{- if eq .Values.security.mode "userNamespaces" }}
procMount: Unmasked
{{- end }}
{{- end }}
{{- with .Values.security.seLinuxOptions }}
seLinuxOptions:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
