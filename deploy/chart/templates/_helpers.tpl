{{/* The name every object shares with deploy/: the chart's name. */}}
{{- define "ecr-pullsecrets-operator.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{/* The labels deploy/ puts on every object. */}}
{{- define "ecr-pullsecrets-operator.labels" -}}
app.kubernetes.io/name: {{ include "ecr-pullsecrets-operator.name" . }}
{{- end -}}

{{/* The operator's ServiceAccount, as an RBAC subject. */}}
{{- define "ecr-pullsecrets-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "ecr-pullsecrets-operator.name" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* repository[:tag][@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "ecr-pullsecrets-operator.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- .Values.image.repository -}}
{{- if $tag }}:{{ $tag }}{{ end -}}
{{- if .Values.image.digest }}@{{ .Values.image.digest }}{{ end -}}
{{- end -}}

{{/* The operator's flags: deploy/'s, then those the values ask for, then extraArgs. */}}
{{- define "ecr-pullsecrets-operator.args" -}}
- --leader-elect=true
- --metrics-bind-address=:8080
- --health-probe-bind-address=:8081
- --log-format={{ .Values.logFormat }}
- --log-level={{ .Values.logLevel }}
{{- with .Values.watchNamespaces }}
- --namespaces={{ join "," . }}
{{- end }}
{{- with .Values.allowedEndpoints }}
- {{ printf "--allowed-endpoints=%s" (join "," .) | quote }}
{{- end }}
{{- with .Values.leaderElection.leaseDuration }}
- --lease-duration={{ . }}
{{- end }}
{{- with .Values.leaderElection.renewDeadline }}
- --renew-deadline={{ . }}
{{- end }}
{{- with .Values.leaderElection.retryPeriod }}
- --retry-period={{ . }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
The rules of the namespaced Role (deploy/components/namespaced/role/role.yaml): the ClusterRole's,
without ClusterEcrRegistries and Namespaces, which a Role cannot grant.
*/}}
{{- define "ecr-pullsecrets-operator.namespacedRules" -}}
- apiGroups: [ecr.pullsecrets.io]
  resources: [ecrregistries]
  verbs: [list, watch, patch]
- apiGroups: [ecr.pullsecrets.io]
  resources: [ecrregistries/status]
  verbs: [patch]
- apiGroups: [ecr.pullsecrets.io]
  resources: [ecrregistries/finalizers]
  verbs: [update]
- apiGroups: [ecr.pullsecrets.io]
  resources: [imageimports]
  verbs: [list, watch]
- apiGroups: [ecr.pullsecrets.io]
  resources: [imageimports/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [serviceaccounts/token]
  verbs: [create]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
