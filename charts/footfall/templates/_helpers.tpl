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

{{/* NetworkPolicy: the label every worker pod has. The operator builds the workers, not Helm; children.py's
selector_labels set it, and it is the same for every channel (instance is per channel). */}}
{{- define "footfall.worker.policySelector" -}}
app.kubernetes.io/name: footfall-worker
{{- end -}}

{{/* The namespaces that get the workers' NetworkPolicy: the watched ones, or the release namespace when the
operator watches its own or every namespace (the chart cannot list those). */}}
{{- define "footfall.workerNamespaces" -}}
{{- if and .Values.operator.watchNamespaces (not .Values.operator.clusterWide) -}}
{{ join "," .Values.operator.watchNamespaces }}
{{- else -}}
{{ .Release.Namespace }}
{{- end -}}
{{- end -}}

{{/* A NetworkPolicyPeer for the workers wherever the operator runs them, as seen from the release namespace. */}}
{{- define "footfall.networkPolicy.workerPeer" -}}
- podSelector:
    matchLabels:
      {{- include "footfall.worker.policySelector" . | nindent 6 }}
  {{- if .Values.operator.clusterWide }}
  namespaceSelector: {}
  {{- else if .Values.operator.watchNamespaces }}
  namespaceSelector:
    matchExpressions:
      # set by the API server on every namespace since Kubernetes 1.21
      - key: kubernetes.io/metadata.name
        operator: In
        values: {{ toJson .Values.operator.watchNamespaces }}
  {{- end }}
{{- end -}}

{{/* A NetworkPolicyPeer for a release-namespace pod (dict: selector, the pod's selector labels; from, the
policy's namespace; release, the release namespace): a podSelector alone within the release namespace, which
needs no namespace label. */}}
{{- define "footfall.networkPolicy.releasePeer" -}}
- podSelector:
    matchLabels:
      {{- .selector | nindent 6 }}
  {{- if ne .from .release }}
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .release }}
  {{- end }}
{{- end -}}

{{/* An egress rule to one of networkPolicy.egress's services (dict: to, the entry; protocols, a list). */}}
{{- define "footfall.networkPolicy.egressTo" -}}
{{- $protocols := .protocols -}}
- ports:
    {{- range .to.ports }}
    {{- $port := . }}
    {{- range $protocols }}
    - {port: {{ $port }}, protocol: {{ . }}}
    {{- end }}
    {{- end }}
  {{- with .to.cidrs }}
  to:
    {{- range . }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* worker.tritonUrl's port when it names a Triton other than the chart's own (whose pods the workers' policy
reaches by label): its address is unknown to policy, so the port is allowed to any address. */}}
{{- define "footfall.networkPolicy.otherTritonPort" -}}
{{- with .Values.worker.tritonUrl -}}
{{- $host := regexReplaceAll ":[0-9]+$" . "" -}}
{{- $own := include "footfall.triton.name" $ -}}
{{- $ownIP := $.Values.triton.service.clusterIP | default "-" -}}
{{- if not (and $.Values.triton.enabled (or (eq $host $own $ownIP) (hasPrefix (printf "%s." $own) $host))) -}}
{{ regexFind "[0-9]+$" . }}
{{- end -}}
{{- end -}}
{{- end -}}
