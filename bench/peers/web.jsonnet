// The peer workload for jrsonnet: every tenant's web apps as the objects
// jardin writes for them (bench/peers/catalog/web.ncl), keyed by
// "<namespace>/<kind>-<name>". Generated main.jsonnet files call
// `objects` on each tenant (a JSON file).
local sizes = {
  s: { cpu: '100m', memory: '128Mi' },
  m: { cpu: '250m', memory: '256Mi' },
};
local app(tenant, name, inst) =
  local ns = tenant.id + '-' + name;
  local size = sizes[inst.size];
  local labels = {
    'app.kubernetes.io/instance': ns,
    'app.kubernetes.io/managed-by': 'jardin',
    'app.kubernetes.io/name': 'web',
    'app.kubernetes.io/part-of': tenant.id,
    'app.kubernetes.io/version': '1.27',
    'jardin.dev/tenant': tenant.id,
  };
  local selector = {
    'app.kubernetes.io/component': 'web',
    'app.kubernetes.io/instance': ns,
    'app.kubernetes.io/name': 'web',
  };
  local meta(n) = { labels: labels, name: n, namespace: ns };
  local fromIngress(port) = {
    from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
    ports: [{ port: port, protocol: 'TCP' }],
  };
  local probe = { failureThreshold: 6, httpGet: { path: '/', port: 'http' }, periodSeconds: 10, timeoutSeconds: 5 };
  local restricted = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
  {
    ['_cluster/namespace-' + ns]: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        labels: labels {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
        name: ns,
      },
    },
    [ns + '/deployment-web']: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('web'),
      spec: {
        replicas: 2,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels: selector },
          spec: {
            automountServiceAccountToken: false,
            containers: [{
              env: [],
              image: 'docker.io/nginxinc/nginx-unprivileged:1.27',
              livenessProbe: probe { initialDelaySeconds: 30 },
              name: 'web',
              ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
              readinessProbe: probe,
              resources: { limits: { memory: size.memory }, requests: size },
              securityContext: restricted {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                readOnlyRootFilesystem: false,
              },
              volumeMounts: [],
            }],
            securityContext: restricted { fsGroup: 101, runAsGroup: 101, runAsUser: 101 },
            volumes: [],
          },
        },
      },
    },
    [ns + '/service-web']: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('web'),
      spec: {
        ports: [{ name: 'http', port: 8080, protocol: 'TCP', targetPort: 'http' }],
        selector: selector,
        type: 'ClusterIP',
      },
    },
    [ns + '/ingress-web']: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta('web') { annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' } },
      spec: {
        ingressClassName: 'nginx',
        rules: [{
          host: inst.host,
          http: { paths: [{ backend: { service: { name: 'web', port: { name: 'http' } } }, path: '/', pathType: 'Prefix' }] },
        }],
        tls: [{ hosts: [inst.host], secretName: 'web-tls' }],
      },
    },
    [ns + '/poddisruptionbudget-web']: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta('web'),
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    },
    [ns + '/networkpolicy-default-deny']: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    [ns + '/networkpolicy-allow-web-ingress']: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-web-ingress'),
      spec: { ingress: [fromIngress(8080)], podSelector: { matchLabels: selector }, policyTypes: ['Ingress'] },
    },
    [ns + '/networkpolicy-allow-acme-http01-solver-ingress']: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-acme-http01-solver-ingress'),
      spec: {
        ingress: [fromIngress(8089)],
        podSelector: { matchLabels: { 'acme.cert-manager.io/http01-solver': 'true' } },
        policyTypes: ['Ingress'],
      },
    },
  };
{
  objects(tenant):: std.foldl(function(acc, name) acc + app(tenant, name, tenant.apps[name]), std.objectFields(tenant.apps), {}),
}
