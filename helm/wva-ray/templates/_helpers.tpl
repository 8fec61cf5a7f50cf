{{/* Names, labels and the controller's environment, shared by the Deployment and the RayService. */}}

{{- define "wva-ray.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wva-ray.fullname" -}}
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

{{- define "wva-ray.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wva-ray.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wva-ray.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "wva-ray.labels" -}}
helm.sh/chart: {{ include "wva-ray.chart" . }}
{{ include "wva-ray.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wva-ray
{{- end -}}

{{- define "wva-ray.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default "wva-ray-controller" .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wva-ray.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The namespace a variant's HPA / ScaledObject / VA lives in. Call with (dict "v" $variant "root" $). */}}
{{- define "wva-ray.variantNamespace" -}}
{{- default .root.Release.Namespace .v.namespace -}}
{{- end -}}

{{/* Environment of the controller process (upstream names, wva-behaviour.md section 5). */}}
{{- define "wva-ray.env" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: PROMETHEUS_BASE_URL
  value: {{ required "prometheus.baseURL is required" .Values.prometheus.baseURL | quote }}
- name: PROMETHEUS_TLS_INSECURE_SKIP_VERIFY
  value: {{ .Values.prometheus.tls.insecureSkipVerify | quote }}
{{- if eq (toString (.Values.saturation.default.analyzerName | default "")) "learned" }}
- name: PROMETHEUS_LEARNED_SIGNALS
  value: "true"
{{- end }}
{{- with .Values.prometheus.tls.secretName }}
- name: PROMETHEUS_CA_CERT_PATH
  value: /etc/wva/prometheus-tls/ca.crt
{{- if $.Values.prometheus.tls.clientCert }}
- name: PROMETHEUS_CLIENT_CERT_PATH
  value: /etc/wva/prometheus-tls/tls.crt
- name: PROMETHEUS_CLIENT_KEY_PATH
  value: /etc/wva/prometheus-tls/tls.key
{{- end }}
{{- end }}
{{- with .Values.prometheus.tls.serverName }}
- name: PROMETHEUS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- with .Values.prometheus.auth.existingSecret }}
- name: PROMETHEUS_BEARER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.prometheus.auth.existingSecretKey }}
{{- end }}
{{- with .Values.prometheus.auth.tokenPath }}
- name: PROMETHEUS_TOKEN_PATH
  value: {{ . | quote }}
{{- end }}
- name: GLOBAL_OPT_INTERVAL
  value: {{ .Values.controller.interval | quote }}
- name: WVA_SCALE_TO_ZERO
  value: {{ .Values.controller.scaleToZero | quote }}
- name: SATURATION_CONFIG_MAP_NAME
  value: {{ .Values.saturation.configMapName | quote }}
{{- with .Values.controller.controllerInstance }}
- name: CONTROLLER_INSTANCE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.controller.watchNamespace }}
- name: WATCH_NAMESPACE
  value: {{ . | quote }}
{{- end }}
- name: WVA_SHARDS
  value: {{ .Values.controller.shards | quote }}
- name: WVA_ACTUATION
  value: {{ .Values.controller.actuation | quote }}
- name: WVA_METRICS_PORT
  value: {{ .Values.controller.metricsPort | quote }}
- name: WVA_HEALTH_PORT
  value: {{ .Values.controller.healthPort | quote }}
- name: RAY_USAGE_STATS_ENABLED
  value: "0"
{{- with .Values.controller.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* `wva-ray run` arguments (settings travel as environment variables, see wva-ray.env). */}}
{{- define "wva-ray.runArgs" -}}
- run
{{- with .Values.controller.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes for Prometheus TLS material. */}}
{{- define "wva-ray.tlsVolume" -}}
{{- with .Values.prometheus.tls.secretName }}
- name: prometheus-tls
  secret:
    secretName: {{ . }}
{{- end }}
{{- end -}}

{{- define "wva-ray.tlsVolumeMount" -}}
{{- if .Values.prometheus.tls.secretName }}
- name: prometheus-tls
  mountPath: /etc/wva/prometheus-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Metric selector labels for a variant's HPA / KEDA query. Call with (dict "v" $variant "root" $). */}}
{{- define "wva-ray.metricSelector" -}}
variant_name: {{ .v.name | quote }}
exported_namespace: {{ include "wva-ray.variantNamespace" . | quote }}
{{- with .root.Values.controller.controllerInstance }}
controller_instance: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
The `rules` of the object of kind .kind in chart file .file (a copy of operator/rbac/, kept identical by
helm/sync-from-repo.sh and tests/packaging): the chart grants exactly what the adapter is tested with.
*/}}
{{- define "wva-ray.rulesOf" -}}
{{- $rules := list -}}
{{- $found := false -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" (.root.Files.Get .file) -1 -}}
{{- $obj := fromYaml $doc -}}
{{- if and $obj (eq (get $obj "kind" | toString) $.kind) -}}
{{- $rules = $obj.rules -}}
{{- $found = true -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "chart file %s holds no %s: run helm/sync-from-repo.sh" .file .kind) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* Cross-field checks JSON schema cannot express (wva-behaviour.md 3.1). Call with (dict "e" $entry "path" "..."). */}}
{{- define "wva-ray.checkSaturationEntry" -}}
{{- $e := .e -}}
{{- if and (hasKey $e "kvCacheThreshold") (hasKey $e "kvSpareTrigger") -}}
{{- if lt (float64 $e.kvCacheThreshold) (float64 $e.kvSpareTrigger) -}}
{{- fail (printf "%s: kvCacheThreshold (%v) must be >= kvSpareTrigger (%v)" .path $e.kvCacheThreshold $e.kvSpareTrigger) -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey $e "scaleUpThreshold") (hasKey $e "scaleDownBoundary") -}}
{{- if le (float64 $e.scaleUpThreshold) (float64 $e.scaleDownBoundary) -}}
{{- fail (printf "%s: scaleUpThreshold (%v) must be > scaleDownBoundary (%v)" .path $e.scaleUpThreshold $e.scaleDownBoundary) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Fails when the two ports of the controller collide. WVA_METRICS_PORT serves every wva_* gauge: the controller
process relays the coordinator actor's decision gauges (wva_desired_replicas, ...) next to its own
(wva_ray/runtime/controller.py); WVA_HEALTH_PORT serves /healthz and /readyz.
*/}}
{{- define "wva-ray.checkPorts" -}}
{{- if eq (int .Values.controller.healthPort) (int .Values.controller.metricsPort) -}}
{{- fail (printf "controller.healthPort (%v) must differ from controller.metricsPort (%v, the wva_* gauges)" .Values.controller.healthPort .Values.controller.metricsPort) -}}
{{- end -}}
{{- end -}}
