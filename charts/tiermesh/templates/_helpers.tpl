{{/* Chart name, truncated to a DNS label. */}}
{{- define "tiermesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name used for every object. */}}
{{- define "tiermesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "tiermesh.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "tiermesh.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "tiermesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tiermesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "tiermesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "tiermesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tiermesh
{{- end }}

{{- define "tiermesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tiermesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tiermesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "tiermesh.sidecarImage" -}}
{{- printf "%s:%s" (default .Values.image.repository .Values.sidecar.image.repository) (default (default .Chart.AppVersion .Values.image.tag) .Values.sidecar.image.tag) }}
{{- end }}

{{/* The one MutatingWebhookConfiguration this release owns; the operator may patch only this name. */}}
{{- define "tiermesh.webhookConfigName" -}}
{{- printf "%s-sidecar-injector" (include "tiermesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tiermesh.certSecretName" -}}
{{- if eq .Values.webhook.certMode "provided" }}
{{- required "webhook.provided.secretName is required when webhook.certMode=provided" .Values.webhook.provided.secretName }}
{{- else }}
{{- default (printf "%s-webhook-certs" (include "tiermesh.fullname" .)) .Values.webhook.certSecretName }}
{{- end }}
{{- end }}

{{- define "tiermesh.operatorURL" -}}
{{- default (printf "%s://%s.%s.svc:%v" .Values.operator.configScheme (include "tiermesh.fullname" .) .Release.Namespace .Values.operator.ports.config) .Values.sidecar.operatorURL }}
{{- end }}

{{/*
Values added after a release was installed are absent from `helm upgrade --reuse-values`: these fall back to the
values.yaml defaults rather than rendering nothing (an explicit 0 is kept).
*/}}
{{- define "tiermesh.shutdownDelaySeconds" -}}
{{- if hasKey .Values.operator "shutdownDelaySeconds" }}{{ int .Values.operator.shutdownDelaySeconds }}{{ else }}5{{ end }}
{{- end }}

{{- define "tiermesh.terminationGracePeriodSeconds" -}}
{{- if hasKey .Values.operator "terminationGracePeriodSeconds" }}{{ int .Values.operator.terminationGracePeriodSeconds }}{{ else }}30{{ end }}
{{- end }}

{{/* Fails early on values that would render objects the apiserver rejects or that cannot work. */}}
{{- define "tiermesh.validate" -}}
{{- if not (has .Values.webhook.failurePolicy (list "Ignore" "Fail")) }}
{{- fail (printf "webhook.failurePolicy must be Ignore or Fail, got %q" .Values.webhook.failurePolicy) }}
{{- end }}
{{- if not (has .Values.webhook.certMode (list "self" "cert-manager" "provided")) }}
{{- fail (printf "webhook.certMode must be self, cert-manager or provided, got %q" .Values.webhook.certMode) }}
{{- end }}
{{- if not (has .Values.sidecar.mode (list "native" "container")) }}
{{- fail (printf "sidecar.mode must be native or container, got %q" .Values.sidecar.mode) }}
{{- end }}
{{- if not (has .Values.operator.configScheme (list "http" "https")) }}
{{- fail (printf "operator.configScheme must be http or https, got %q" .Values.operator.configScheme) }}
{{- end }}
{{- if and (eq .Values.operator.configScheme "https") (not .Values.webhook.enabled) }}
{{- fail "operator.configScheme=https serves the sidecar API with the webhook's certificate: enable the webhook, or set operator.configScheme=http (insecure: tokens in clear text)" }}
{{- end }}
{{- $pdb := .Values.operator.podDisruptionBudget }}
{{- if and $pdb.enabled (gt (int .Values.operator.replicas) 1) (not (kindIs "string" $pdb.minAvailable)) }}
{{- if ge (int $pdb.minAvailable) (int .Values.operator.replicas) }}
{{- fail (printf "operator.podDisruptionBudget.minAvailable (%v) must be below operator.replicas (%v): otherwise no replica may ever be evicted, and every node drain blocks on the operator" $pdb.minAvailable .Values.operator.replicas) }}
{{- end }}
{{- end }}
{{- $grace := include "tiermesh.terminationGracePeriodSeconds" . | int }}
{{- $delay := include "tiermesh.shutdownDelaySeconds" . | int }}
{{- if le $grace (add $delay 5 | int) }}
{{- fail (printf "operator.terminationGracePeriodSeconds (%d) must exceed operator.shutdownDelaySeconds (%d) by more than 5 s: the replica is killed before it has closed its streams and released the Lease" $grace $delay) }}
{{- end }}
{{- if and (eq .Values.webhook.certMode "provided") (not .Values.webhook.provided.caBundle) }}
{{- fail "webhook.provided.caBundle is required when webhook.certMode=provided" }}
{{- end }}
{{- end }}
