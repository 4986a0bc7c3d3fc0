{{/* Names and labels shared by every template. */}}

{{- define "footfall.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "footfall.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "footfall.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: footfall
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "footfall.operator.name" -}}{{ include "footfall.fullname" . }}-operator{{- end -}}
{{- define "footfall.triton.name" -}}{{ include "footfall.fullname" . }}-triton{{- end -}}

{{- define "footfall.operator.selector" -}}
app.kubernetes.io/name: footfall-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "footfall.triton.selector" -}}
app.kubernetes.io/name: footfall-triton
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "footfall.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding FOOTFALL_DATABASE_URL and FOOTFALL_REDIS_URL. */}}
{{- define "footfall.connectionSecret" -}}
{{- if .Values.connections.existingSecret -}}
{{ .Values.connections.existingSecret }}
{{- else -}}
{{ include "footfall.fullname" . }}-connections
{{- end -}}
{{- end -}}

{{/* Where workers find Triton: worker.tritonUrl when set, else the chart's own Service by its DNS name. */}}
{{- define "footfall.tritonUrl" -}}
{{- if .Values.worker.tritonUrl -}}
{{ .Values.worker.tritonUrl }}
{{- else if .Values.triton.enabled -}}
{{ include "footfall.triton.name" . }}.{{ .Release.Namespace }}.svc:8001
{{- else -}}
{{ required "worker.tritonUrl is required when triton.enabled is false" .Values.worker.tritonUrl }}
{{- end -}}
{{- end -}}

{{/* The namespaces the operator watches; empty = cluster-wide. */}}
{{- define "footfall.watchNamespaces" -}}
{{- if .Values.operator.clusterWide -}}
{{- else if .Values.operator.watchNamespaces -}}
{{ join "," .Values.operator.watchNamespaces }}
{{- else -}}
{{ .Release.Namespace }}
{{- end -}}
{{- end -}}

{{- define "footfall.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "footfall.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
