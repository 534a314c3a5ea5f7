{{/* Pieces shared by the server and doctor containers. */}}

{{/*
envFrom and env: the ConfigMap's settings, the secrets, and the pod's own name and address: the node id and the URL
the other nodes call this one at (docs/decisions/0032-server-nodes.md).
*/}}
{{- define "airlock.containerEnvironment" -}}
envFrom:
  - configMapRef:
      name: {{ include "airlock.fullname" . }}
env:
  {{- with include "airlock.secretEnv" . | trim }}
  {{- . | nindent 2 }}
  {{- end }}
  - name: AIRLOCK_NODE_ID
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: AIRLOCK_POD_IP
    valueFrom:
      fieldRef:
        fieldPath: status.podIP
  - name: AIRLOCK_NODE_URL
    value: http://$(AIRLOCK_POD_IP):8080
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* A container's resources, with the FUSE device plugin's resource when fuse.mode is resource. */}}
{{- define "airlock.resources" -}}
{{- $resources := deepCopy .resources -}}
{{- if eq .root.Values.fuse.mode "resource" -}}
{{- $limits := default (dict) $resources.limits -}}
{{- $_ := set $limits .root.Values.fuse.resourceName "1" -}}
{{- $_ := set $resources "limits" $limits -}}
{{- end -}}
{{- range $kind, $amounts := deepCopy $resources -}}
{{- if not $amounts -}}
{{- $_ := unset $resources $kind -}}
{{- end -}}
{{- end -}}
{{- toYaml $resources -}}
{{- end -}}

{{- define "airlock.volumeMounts" -}}
- name: data
  mountPath: /var/lib/airlock
- name: images
  mountPath: /var/lib/airlock-images
{{- if eq .Values.fuse.mode "hostPath" }}
- name: fuse
  mountPath: /dev/fuse
{{- end }}
{{- end -}}
