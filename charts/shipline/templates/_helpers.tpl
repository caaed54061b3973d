{{/*
Every workload is rendered by "shipline.workload" from one dict, the same pods
`shipline k8s render` writes: a non-root UID in group 0, read-only root (/tmp is an emptyDir),
no capability, seccomp RuntimeDefault, no service-account token, credentials from a Secret by
key. Keys of the dict: root, name, component, model, port, args, secret, secretKeys, replicas,
maxReplicas, resources, image, ready, live, scrape.
*/}}

{{- define "shipline.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "shipline.dnsName" -}}
{{ regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trimAll "-" | trunc 63 | trimAll "-" }}
{{- end }}

{{- define "shipline.labels" -}}
app.kubernetes.io/name: shipline
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/instance: {{ .name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- with .model }}
shipline.dev/model: {{ . }}
{{- end }}
{{- end }}

{{- define "shipline.selector" -}}
app.kubernetes.io/name: shipline
app.kubernetes.io/instance: {{ .name }}
{{- end }}

{{- define "shipline.metadata" -}}
name: {{ .name }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "shipline.labels" . | nindent 2 }}
{{- end }}

{{- define "shipline.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 0
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "shipline.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
  - ALL
{{- end }}

{{- define "shipline.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
periodSeconds: {{ .period }}
{{- end }}

{{- define "shipline.workload" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "shipline.metadata" . | nindent 2 }}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "shipline.metadata" . | nindent 2 }}
spec:
  replicas: {{ .replicas }}
  selector:
    matchLabels:
      {{- include "shipline.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "shipline.labels" . | nindent 8 }}
      {{- if .scrape }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .port | quote }}
        prometheus.io/path: /metrics
      {{- end }}
    spec:
      serviceAccountName: {{ .name }}
      automountServiceAccountToken: false
      securityContext:
        {{- include "shipline.podSecurity" . | nindent 8 }}
      containers:
      - name: {{ .component }}
        image: {{ .image }}
        imagePullPolicy: {{ .root.Values.image.pullPolicy }}
        command:
        - shipline
        args:
        {{- toYaml .args | nindent 8 }}
        env:
        - name: HOME
          value: /tmp
        {{- range .secretKeys }}
        - name: {{ . }}
          valueFrom:
            secretKeyRef:
              name: {{ $.secret }}
              key: {{ . }}
        {{- end }}
        resources:
          {{- toYaml .resources | nindent 10 }}
        securityContext:
          {{- include "shipline.containerSecurity" . | nindent 10 }}
        volumeMounts:
        - name: tmp
          mountPath: /tmp
        workingDir: /tmp
        {{- if .port }}
        ports:
        - name: http
          containerPort: {{ .port }}
        startupProbe:
          {{- include "shipline.probe" (dict "path" .ready "period" 2) | nindent 10 }}
          failureThreshold: 90
        readinessProbe:
          {{- include "shipline.probe" (dict "path" .ready "period" 5) | nindent 10 }}
        livenessProbe:
          {{- include "shipline.probe" (dict "path" .live "period" 10) | nindent 10 }}
        {{- end }}
      volumes:
      - name: tmp
        emptyDir: {}
{{- if .port }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "shipline.metadata" . | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "shipline.selector" . | nindent 4 }}
  ports:
  - name: http
    port: {{ .port }}
    targetPort: http
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "shipline.metadata" . | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ .replicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 70
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "shipline.metadata" . | nindent 2 }}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      {{- include "shipline.selector" . | nindent 6 }}
{{- end }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "shipline.metadata" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "shipline.selector" . | nindent 6 }}
  policyTypes:
  - Ingress
  {{- if .port }}
  ingress:
  - ports:
    - port: {{ .port }}
  {{- else }}
  ingress: []
  {{- end }}
{{- end }}
