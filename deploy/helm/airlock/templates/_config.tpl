{{/* The ConfigMap's entries: the server's non-secret settings (packages/server/src/config.ts). */}}
{{- define "airlock.configData" -}}
{{- $config := .Values.config -}}
AIRLOCK_HOST: "0.0.0.0"
AIRLOCK_PORT: "8080"
AIRLOCK_DATA_DIR: /var/lib/airlock
AIRLOCK_IMAGES_DIR: /var/lib/airlock-images
AIRLOCK_DRAIN_SECONDS: {{ .Values.drainSeconds | quote }}
AIRLOCK_SANDBOX_UID: {{ $config.sandboxUid | quote }}
AIRLOCK_SANDBOX_GID: {{ $config.sandboxGid | quote }}
AIRLOCK_NETWORK: {{ ternary "on" "off" $config.network.enabled | quote }}
{{- with $config.network.subnet }}
AIRLOCK_NETWORK_SUBNET: {{ . | quote }}
{{- end }}
{{- with $config.network.dns }}
AIRLOCK_NETWORK_DNS: {{ join "," . | quote }}
{{- end }}
{{- with $config.webDns }}
AIRLOCK_WEB_DNS: {{ join "," . | quote }}
{{- end }}
{{- with $config.publicUrl }}
AIRLOCK_PUBLIC_URL: {{ . | quote }}
{{- end }}
{{- with $config.ownerEmail }}
AIRLOCK_OWNER_EMAIL: {{ . | quote }}
{{- end }}
{{- with $config.corsOrigins }}
AIRLOCK_CORS_ORIGINS: {{ join "," . | quote }}
{{- end }}
{{- with .Values.s3 }}
{{- if .bucket }}
AIRLOCK_S3_BUCKET: {{ .bucket | quote }}
AIRLOCK_S3_REGION: {{ .region | quote }}
{{- with .prefix }}
AIRLOCK_S3_PREFIX: {{ . | quote }}
{{- end }}
{{- with .endpoint }}
AIRLOCK_S3_ENDPOINT: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" .forcePathStyle) }}
AIRLOCK_S3_FORCE_PATH_STYLE: {{ .forcePathStyle | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.oidc }}
{{- if .issuer }}
AIRLOCK_OIDC_ISSUER: {{ .issuer | quote }}
AIRLOCK_OIDC_CLIENT_ID: {{ .clientId | quote }}
{{- with .redirectUrl }}
AIRLOCK_OIDC_REDIRECT_URL: {{ . | quote }}
{{- end }}
{{- with .scopes }}
AIRLOCK_OIDC_SCOPES: {{ . | quote }}
{{- end }}
{{- with .roleClaim }}
AIRLOCK_OIDC_ROLE_CLAIM: {{ . | quote }}
{{- end }}
{{- with .roles }}
AIRLOCK_OIDC_ROLES: {{ . | quote }}
{{- end }}
{{- with .emailDomains }}
AIRLOCK_OIDC_EMAIL_DOMAINS: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := $config.extra }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end -}}
