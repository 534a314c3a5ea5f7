{{/* Names, labels and the values derived from several settings. */}}

{{- define "airlock.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "airlock.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "airlock.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airlock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of the `helm test` pod, which the Service, the PodDisruptionBudget and the NetworkPolicy do not select. */}}
{{- define "airlock.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "airlock.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "airlock.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "airlock.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "airlock.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "airlock.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "airlock.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* "true" when a secret item (value or existingSecret) is set. */}}
{{- define "airlock.secretSet" -}}
{{- if or .value .existingSecret.name -}}true{{- end -}}
{{- end -}}

{{/* The secret items, by the environment variable each becomes. */}}
{{- define "airlock.secretItems" -}}
DATABASE_URL: {{ toJson .Values.database.url }}
AIRLOCK_DATABASE_OWNER_URL: {{ toJson .Values.database.ownerUrl }}
AIRLOCK_S3_ACCESS_KEY_ID: {{ toJson .Values.s3.accessKeyId }}
AIRLOCK_S3_SECRET_ACCESS_KEY: {{ toJson .Values.s3.secretAccessKey }}
AIRLOCK_MASTER_KEY: {{ toJson .Values.keys.masterKey }}
AIRLOCK_URL_SIGNING_KEY: {{ toJson .Values.keys.urlSigningKey }}
AIRLOCK_ADMIN_TOKEN: {{ toJson .Values.keys.adminToken }}
AIRLOCK_BOOTSTRAP_API_KEY: {{ toJson .Values.keys.bootstrapApiKey }}
AIRLOCK_OIDC_CLIENT_SECRET: {{ toJson .Values.oidc.clientSecret }}
{{- end -}}

{{/* The entries of the chart's Secret: the items given by value and not by an existing Secret. */}}
{{- define "airlock.secretData" -}}
{{- range $variable, $item := include "airlock.secretItems" . | fromYaml }}
{{- if and $item.value (not $item.existingSecret.name) }}
{{ $variable }}: {{ $item.value | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment entries of the secret items: each from its existing Secret or from the chart's. */}}
{{- define "airlock.secretEnv" -}}
{{- $secretName := include "airlock.fullname" . -}}
{{- range $variable, $item := include "airlock.secretItems" . | fromYaml }}
{{- if $item.existingSecret.name }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $item.existingSecret.name }}
      key: {{ $item.existingSecret.key }}
{{- else if $item.value }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $variable }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "airlock.embeddedDatabase" -}}
{{- if not (include "airlock.secretSet" .Values.database.url) -}}true{{- end -}}
{{- end -}}

{{/* The data volume's type: persistence.type, or its default for the database in use. */}}
{{- define "airlock.dataVolumeType" -}}
{{- if .Values.persistence.type -}}
{{- .Values.persistence.type -}}
{{- else if include "airlock.embeddedDatabase" . -}}
persistentVolumeClaim
{{- else -}}
emptyDir
{{- end -}}
{{- end -}}

{{- define "airlock.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add .Values.drainSeconds 15 -}}
{{- else -}}
{{- .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{- define "airlock.dedicatedNodes" -}}
{{- if kindIs "invalid" .Values.dedicatedNodes.enabled -}}
{{- if eq .Values.security.mode "privileged" -}}true{{- end -}}
{{- else if .Values.dedicatedNodes.enabled -}}true{{- end -}}
{{- end -}}

{{/* Settings the chart cannot render, refused with what to change. */}}
{{- define "airlock.validate" -}}
{{- $embedded := include "airlock.embeddedDatabase" . -}}
{{- $daemonSet := eq .Values.workload.kind "DaemonSet" -}}
{{- $multiNode := or $daemonSet (gt (int .Values.replicas) 1) -}}
{{- if and $embedded $daemonSet -}}
{{- fail "workload.kind DaemonSet runs a server on every selected node, but the embedded database (no database.url) serves one: set database.url (or database.url.existingSecret) to a PostgreSQL database" -}}
{{- end -}}
{{- if and $embedded (gt (int .Values.replicas) 1) -}}
{{- fail (printf "replicas is %d, but the embedded database (no database.url) serves one replica: set database.url (or database.url.existingSecret) to a PostgreSQL database, or replicas to 1" (int .Values.replicas)) -}}
{{- end -}}
{{- if $multiNode -}}
{{- if not .Values.s3.bucket -}}
{{- fail "several nodes (replicas > 1 or a DaemonSet) share thread layers and files through S3: set s3.bucket (and s3.endpoint, s3 credentials or the AWS default chain)" -}}
{{- end -}}
{{- if not (include "airlock.secretSet" .Values.keys.masterKey) -}}
{{- fail "several nodes (replicas > 1 or a DaemonSet) must share the master key that seals secrets: set keys.masterKey.value (openssl rand -hex 32) or keys.masterKey.existingSecret" -}}
{{- end -}}
{{- if not (include "airlock.secretSet" .Values.keys.urlSigningKey) -}}
{{- fail "several nodes (replicas > 1 or a DaemonSet) must share the key that signs file URLs: set keys.urlSigningKey.value (openssl rand -hex 32) or keys.urlSigningKey.existingSecret" -}}
{{- end -}}
{{- if eq (include "airlock.dataVolumeType" .) "persistentVolumeClaim" -}}
{{- fail "several nodes (replicas > 1 or a DaemonSet) need a data directory each, and persistence.type persistentVolumeClaim mounts one claim in every pod: use emptyDir (or hostPath with a DaemonSet)" -}}
{{- end -}}
{{- if eq .Values.images.persistence.type "persistentVolumeClaim" -}}
{{- fail "images.persistence.type persistentVolumeClaim mounts one volume in every pod, and image builds lock with process ids, which do not cross pods: use emptyDir (each pod builds its images at first start) or, with a DaemonSet, hostPath" -}}
{{- end -}}
{{- end -}}
{{- if ne (include "airlock.secretSet" .Values.s3.accessKeyId) (include "airlock.secretSet" .Values.s3.secretAccessKey) -}}
{{- fail "set both s3.accessKeyId and s3.secretAccessKey (a value or an existingSecret each), or neither (the AWS default chain)" -}}
{{- end -}}
{{- if and (include "airlock.secretSet" .Values.database.ownerUrl) $embedded -}}
{{- fail "database.ownerUrl needs database.url: the owner role migrates the PostgreSQL database the server uses" -}}
{{- end -}}
{{- $dataType := include "airlock.dataVolumeType" . -}}
{{- if and $embedded (ne $dataType "persistentVolumeClaim") (ne $dataType "hostPath") -}}
{{- fail (printf "persistence.type %s would lose the embedded database with its pod: use persistentVolumeClaim, or set database.url" $dataType) -}}
{{- end -}}
{{- if and $daemonSet (eq $dataType "persistentVolumeClaim") -}}
{{- fail "a DaemonSet's pods cannot share one claim for their data directories: set persistence.type to emptyDir or hostPath" -}}
{{- end -}}
{{- if and (not $daemonSet) (or (eq $dataType "hostPath") (eq .Values.images.persistence.type "hostPath")) -}}
{{- fail "hostPath volumes are for workload.kind DaemonSet (one pod per node); a Deployment's pods could share a node's directory" -}}
{{- end -}}
{{- if and $embedded (eq $dataType "hostPath") -}}
{{- fail "the embedded database needs workload.kind Deployment with a persistentVolumeClaim" -}}
{{- end -}}
{{- if and (not (kindIs "invalid" .Values.terminationGracePeriodSeconds)) (le (int .Values.terminationGracePeriodSeconds) (int .Values.drainSeconds)) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed drainSeconds (%d): Kubernetes kills the pod when it ends, before the server has recorded the calls it cancelled" (int .Values.terminationGracePeriodSeconds) (int .Values.drainSeconds)) -}}
{{- end -}}
{{- if eq .Values.security.mode "userNamespaces" -}}
{{- if not (semverCompare ">=1.33.0-0" .Capabilities.KubeVersion.Version) -}}
{{- fail (printf "security.mode userNamespaces needs Kubernetes 1.33 or newer (user namespaces for pods, on by default from 1.33, stable in 1.36); this cluster is %s: use security.mode capabilities or privileged" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- if or (ge (int .Values.config.sandboxUid) 65536) (ge (int .Values.config.sandboxGid) 65536) -}}
{{- fail "config.sandboxUid and config.sandboxGid must be below 65536 with security.mode userNamespaces: the pod's user namespace maps 65536 ids" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.security.mode "privileged") (not (include "airlock.dedicatedNodes" .)) (not .Values.nodeSelector) (not .Values.affinity) -}}
{{- fail "security.mode privileged gives the pod the node: keep dedicatedNodes.enabled (dedicated tainted nodes), or name the nodes with nodeSelector or affinity" -}}
{{- end -}}
{{- if .Values.oidc.issuer -}}
{{- if or (not .Values.oidc.clientId) (not (include "airlock.secretSet" .Values.oidc.clientSecret)) -}}
{{- fail "oidc.issuer is set, so oidc.clientId and oidc.clientSecret (a value or an existingSecret) must be too" -}}
{{- end -}}
{{- if and (not .Values.oidc.redirectUrl) (not .Values.config.publicUrl) -}}
{{- fail "oidc.issuer is set: set oidc.redirectUrl (https://<this server>/auth/oidc/callback, as registered with the provider) or config.publicUrl" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.fuse.mode "hostPath") (ne .Values.security.mode "privileged") -}}
{{- fail "fuse.mode hostPath works only with security.mode privileged: the device cgroup of other containers refuses a device the runtime did not add; use fuse.mode resource (a device plugin) or crioDevices" -}}
{{- end -}}
{{- if and (eq .Values.fuse.mode "resource") (not .Values.fuse.resourceName) -}}
{{- fail "fuse.mode resource needs fuse.resourceName: the extended resource your device plugin offers /dev/fuse as (e.g. squat.ai/fuse)" -}}
{{- end -}}
{{- if and (eq .Values.fuse.mode "crioDevices") (not .Values.security.crioAnnotations) -}}
{{- fail "fuse.mode crioDevices passes /dev/fuse through a CRI-O annotation: set security.crioAnnotations to true (and allow the annotation in CRI-O's runtime handler)" -}}
{{- end -}}
{{- end -}}
