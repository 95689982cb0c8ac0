{{/*
The named templates that render rosgate's container also serve another
chart's Pod (sidecar mode): there `.Values` is that chart's, and rosgate's
values sit under its `rosgate` key (the dependency's name or alias). Each of
them therefore starts with
  $values := get .Values "rosgate" | default .Values
and never reads .Chart, which is the including chart's.
*/}}

{{- define "rosgate.name" -}}
{{- $values := get .Values "rosgate" | default .Values }}
{{- $values.nameOverride | default "rosgate" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rosgate.fullname" -}}
{{- $values := get .Values "rosgate" | default .Values }}
{{- if $values.fullnameOverride }}
{{- $values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "rosgate.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "rosgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rosgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rosgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
{{ include "rosgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret with the passwords and the token: the chart's own, or existingSecret. */}}
{{- define "rosgate.secretName" -}}
{{- $values := get .Values "rosgate" | default .Values }}
{{- $values.secrets.existingSecret | default (include "rosgate.fullname" .) }}
{{- end }}

{{/*
"true" when the sidecar runs as a native sidecar (an init container with
restartPolicy Always, Kubernetes 1.29 and later), "" for a plain container.
sidecar.nativeSidecar true or false overrides the version check.
*/}}
{{- define "rosgate.nativeSidecar" -}}
{{- $values := get .Values "rosgate" | default .Values }}
{{- $forced := $values.sidecar.nativeSidecar }}
{{- if kindIs "bool" $forced }}
{{- if $forced }}true{{ end }}
{{- else if semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version }}true
{{- end }}
{{- end }}

{{/*
rosgate's container as a mapping, for the Deployment and for the sidecar.
Probes are httpGet and preStop is a sleep action: the image needs no shell.
*/}}
{{- define "rosgate.containerSpec" -}}
{{- $values := get .Values "rosgate" | default .Values }}
{{- $secret := include "rosgate.secretName" . -}}
name: rosgate
image: {{ printf "%s:%s" $values.image.repository $values.image.tag | quote }}
imagePullPolicy: {{ $values.image.pullPolicy }}
args: ["--config", "/etc/rosgate/config/config.yaml"]
env:
  {{- with $values.router.host }}
  - name: MIKROTIK_HOST
    value: {{ . | quote }}
  {{- end }}
  {{- with $values.router.port }}
  - name: MIKROTIK_PORT
    value: {{ . | quote }}
  {{- end }}
  {{- with $values.router.username }}
  - name: MIKROTIK_USERNAME
    value: {{ . | quote }}
  {{- end }}
  {{- with $values.router.loginEncoding }}
  - name: MIKROTIK_LOGIN_ENCODING
    value: {{ . | quote }}
  {{- end }}
  {{- with $values.router.tls }}
  - name: MIKROTIK_TLS
    value: {{ . | quote }}
  {{- end }}
  - name: MIKROTIK_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: router-password
        optional: true
  - name: PROXY_HOST
    value: {{ $values.proxy.host | quote }}
  - name: PROXY_PORT
    value: {{ $values.proxy.port | quote }}
  {{- if $values.proxy.tls.enabled }}
  - name: PROXY_TLS_PORT
    value: {{ $values.proxy.tls.port | quote }}
  {{- end }}
  - name: MONITORING_PORT
    value: {{ $values.monitoring.port | quote }}
  - name: MONITORING_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: monitoring-token
        optional: true
  - name: AUDIT_LOG_DIR
    value: {{ $values.audit.dir | quote }}
  {{- if $values.audit.maxTotalBytes }}
  - name: AUDIT_LOG_MAX_TOTAL_BYTES
    value: {{ $values.audit.maxTotalBytes | int64 | quote }}
  {{- end }}
  {{- if $values.redis.existingSecret }}
  - name: REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ $values.redis.existingSecret }}
        key: {{ $values.redis.urlKey }}
  {{- else if $values.redis.url }}
  - name: REDIS_URL
    value: {{ $values.redis.url | quote }}
  {{- end }}
  - name: REDIS_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: redis-password
        optional: true
  {{- with $values.redis.prefix }}
  - name: REDIS_PREFIX
    value: {{ . | quote }}
  {{- end }}
  {{- with $values.redis.routerMaxSessions }}
  - name: ROUTER_MAX_SESSIONS
    value: {{ . | quote }}
  {{- end }}
  {{- if $values.redis.strict }}
  - name: REDIS_STRICT_CACHE
    value: "true"
  {{- end }}
  {{- with $values.env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $values.envFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
ports:
  - name: api
    containerPort: {{ $values.proxy.port }}
    protocol: TCP
  {{- if $values.proxy.tls.enabled }}
  - name: api-ssl
    containerPort: {{ $values.proxy.tls.port }}
    protocol: TCP
  {{- end }}
  - name: monitoring
    containerPort: {{ $values.monitoring.port }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /monitoring/live
    port: monitoring
  {{- toYaml $values.livenessProbe | nindent 2 }}
readinessProbe:
  httpGet:
    path: /monitoring/ready
    port: monitoring
  {{- toYaml $values.readinessProbe | nindent 2 }}
{{- if and $values.preStopSleepSeconds (semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version) }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ $values.preStopSleepSeconds }}
{{- end }}
securityContext:
  {{- toYaml $values.securityContext | nindent 2 }}
resources:
  {{- toYaml $values.resources | nindent 2 }}
volumeMounts:
  - name: rosgate-config
    mountPath: /etc/rosgate/config
    readOnly: true
  - name: rosgate-secrets
    mountPath: /etc/rosgate/secrets
    readOnly: true
  - name: rosgate-audit
    mountPath: {{ $values.audit.dir | quote }}
{{- end }}

{{/* The Pod volumes the container mounts: config, secrets and the audit folder. */}}
{{- define "rosgate.volumes" -}}
{{- $values := get .Values "rosgate" | default .Values -}}
- name: rosgate-config
  configMap:
    name: {{ include "rosgate.fullname" . }}
- name: rosgate-secrets
  secret:
    secretName: {{ include "rosgate.secretName" . }}
- name: rosgate-audit
  {{- toYaml $values.audit.volume | nindent 2 }}
{{- end }}

{{/*
Sidecar mode: rosgate's container for your application's Pod, as one list
item. Put it under initContainers when rosgate.nativeSidecar is "true" (it
then carries restartPolicy: Always), under containers otherwise, and add
rosgate.volumes to the Pod's volumes. See README.md.
*/}}
{{- define "rosgate.sidecarContainer" -}}
- {{- include "rosgate.containerSpec" . | nindent 2 }}
{{- if include "rosgate.nativeSidecar" . }}
  restartPolicy: Always
{{- end }}
{{- end }}
