{{/* Names, labels and derived values shared by the templates. */}}

{{/* The release name, as the portal's plain manifests name everything (spider-agent). */}}
{{- define "spider-agent.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
RBAC objects outside the release namespace (ClusterRole, Roles in target namespaces)
carry the release namespace too, so two installs (say, two scoped agents) never collide.
*/}}
{{- define "spider-agent.rbacName" -}}
{{- printf "%s-%s" .Release.Namespace (include "spider-agent.fullname" .) -}}
{{- end -}}

{{- define "spider-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spider-agent.labels" -}}
{{ include "spider-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Namespaces a scoped install gets Roles in: include minus exclude. */}}
{{- define "spider-agent.scopedNamespaces" -}}
{{- $out := list -}}
{{- range .Values.namespaces.include -}}
{{- if not (has . $.Values.namespaces.exclude) -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- $out | uniq | toJson -}}
{{- end -}}

{{- define "spider-agent.tokenSecretName" -}}
{{- if .Values.controls.existingSecret.name -}}
{{- .Values.controls.existingSecret.name -}}
{{- else -}}
{{- printf "%s-token" (include "spider-agent.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "spider-agent.tokenSecretKey" -}}
{{- if .Values.controls.existingSecret.name -}}
{{- .Values.controls.existingSecret.key | default "token" -}}
{{- else -}}
token
{{- end -}}
{{- end -}}
