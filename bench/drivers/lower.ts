// Driver: lowering and optimizing time on a realistic multi-tenant model, apart from loading.
//
//   npx tsx bench/drivers/lower.ts time [PODS] [POLICIES] [NAMESPACES] [--unique-labels]
//       times loadModel, lowerModel, optimize; --unique-labels gives every pod a label of its own (as StatefulSet
//       pods have), so no two endpoints are alike and lowering cannot share chains between them
//   npx tsx bench/drivers/lower.ts snapshot OUTDIR                       writes the Program JSON (lowered and
//       optimized) of every conformance case, examples/multi-tenant and a small generated cluster, for
//       byte-for-byte comparison of two versions of the compiler.
//
// The generated cluster: NAMESPACES namespaces (tenants and a few shared ones), PODS dual-stack pods with named
// ports (the same name at different numbers and protocols across apps), and POLICIES policies: Kubernetes
// NetworkPolicies of the shapes tenants write (default deny, same-app, namespaceSelector + podSelector,
// ipBlock with except, named ports both ways, matchExpressions), Calico NetworkPolicies (nets/notNets, named
// ports, Deny/Pass), GlobalNetworkPolicies in a platform tier, AdminNetworkPolicies and a BANP.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '../../compiler/pipeline';
import { lowerModel } from '../../compiler/ir/lower';
import { optimize } from '../../compiler/optimize';
import { Diagnostics } from '../../compiler/model/diagnostics';
import type { Program } from '../../compiler/ir/types';

const APPS = ['web', 'api', 'db', 'cache', 'worker', 'batch', 'auth', 'queue'];

function podYaml(p: number, ns: string, unique: boolean): string {
  const app = APPS[p % APPS.length];
  const v4 = `10.${64 + ((p >> 16) & 63)}.${(p >> 8) & 255}.${p & 255}`;
  const v6 = `fd00:10::${p.toString(16)}`;
  // the same name means different numbers (and, for "dns", protocols) on different apps
  const http = 8080 + (p % 3);
  const ports = [
    `        - { name: http, containerPort: ${http} }`,
    `        - { name: metrics, containerPort: 9100 }`,
    ...(app === 'db' ? ['        - { name: sql, containerPort: 5432 }'] : []),
    ...(app === 'cache' ? ['        - { name: dns, containerPort: 5353, protocol: UDP }'] : []),
    ...(app === 'auth' ? ['        - { name: dns, containerPort: 5353 }'] : []),
  ];
  const dual = p % 4 !== 3;
  return (
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${app}-${p}\n  namespace: ${ns}\n  labels: { app: ${app}, track: ${p % 5 === 0 ? 'canary' : 'stable'}${unique ? `, statefulset.kubernetes.io/pod-name: ${app}-${p}` : ''} }\n` +
    `spec:\n  serviceAccountName: sa-${app}\n  containers:\n    - name: c\n      image: x\n      ports:\n${ports.join('\n')}\n` +
    `status:\n  podIPs: [{ ip: ${v4} }${dual ? `, { ip: "${v6}" }` : ''}]\n`
  );
}

function k8sPolicy(i: number, ns: string, tenant: number, nsCount: number): string {
  const app = APPS[i % APPS.length];
  const other = APPS[(i + 3) % APPS.length];
  const head = `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np-${i}\n  namespace: ${ns}\nspec:\n`;
  switch (i % 8) {
    case 0:
      return head + `  podSelector: {}\n  policyTypes: [Ingress, Egress]\n`;
    case 1:
      return head + `  podSelector: { matchLabels: { app: ${app} } }\n  ingress:\n    - from:\n        - podSelector: { matchLabels: { app: ${other} } }\n      ports:\n        - { port: http }\n        - { port: ${1000 + (i % 4000)} }\n`;
    case 2:
      return (
        head +
        `  podSelector: { matchLabels: { app: ${app} } }\n  ingress:\n    - from:\n        - namespaceSelector: { matchLabels: { tenant: t${(tenant + 1) % 50} } }\n          podSelector: { matchLabels: { app: ${other} } }\n` +
        `        - namespaceSelector: { matchLabels: { role: shared } }\n      ports:\n        - { protocol: TCP, port: 9100 }\n`
      );
    case 3:
      return (
        head +
        `  podSelector: { matchLabels: { app: ${app} } }\n  policyTypes: [Egress]\n  egress:\n    - to:\n        - ipBlock: { cidr: 172.${16 + (i % 16)}.0.0/16, except: [172.${16 + (i % 16)}.${i % 256}.0/24] }\n` +
        `        - ipBlock: { cidr: "2001:db8:${(i % 65536).toString(16)}::/48" }\n      ports:\n        - { protocol: TCP, port: 443 }\n`
      );
    case 4:
      return (
        head +
        `  podSelector: { matchLabels: { app: ${app} } }\n  policyTypes: [Egress]\n  egress:\n    - to:\n        - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ns${(i * 7) % nsCount} } }\n` +
        `      ports:\n        - { port: http }\n        - { protocol: UDP, port: dns }\n    - to:\n        - namespaceSelector: { matchLabels: { role: shared } }\n          podSelector: { matchLabels: { app: auth } }\n      ports:\n        - { port: dns }\n`
      );
    case 5:
      return (
        head +
        `  podSelector:\n    matchExpressions:\n      - { key: app, operator: In, values: [${app}, ${other}] }\n      - { key: track, operator: NotIn, values: [canary] }\n` +
        `  ingress:\n    - from:\n        - podSelector: {}\n        - ipBlock: { cidr: 10.${64 + (i % 4)}.0.0/16 }\n`
      );
    case 6:
      return head + `  podSelector: { matchLabels: { app: ${app}, track: canary } }\n  ingress:\n    - {}\n  egress:\n    - ports:\n        - { protocol: TCP, port: 53, endPort: 60 }\n  policyTypes: [Ingress, Egress]\n`;
    default:
      return (
        head +
        `  podSelector: { matchLabels: { app: ${app} } }\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchExpressions: [{ key: tenant, operator: Exists }]\n` +
        `      ports:\n        - { protocol: SCTP, port: ${2000 + (i % 100)} }\n        - { port: metrics }\n`
      );
  }
}

function calicoPolicy(i: number, ns: string): string {
  const app = APPS[i % APPS.length];
  return (
    `apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: cnp-${i}\n  namespace: ${ns}\nspec:\n  order: ${i % 3 === 0 ? 50 : 500}\n` +
    `  selector: app == '${app}'\n  types: [Ingress, Egress]\n  ingress:\n    - action: Deny\n      source:\n        nets: [192.168.${i % 256}.0/24]\n        notNets: [192.168.${i % 256}.128/25]\n` +
    `    - action: Allow\n      protocol: TCP\n      source:\n        selector: app in {'web', 'api'}\n      destination:\n        ports: [http, 9000:9010]\n` +
    `  egress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        selector: app == 'db'\n        ports: [sql, http]\n` +
    `    - action: Pass\n      destination:\n        notSelector: app == 'batch'\n        namespaceSelector: all()\n`
  );
}

function globalPolicies(n: number): string[] {
  const docs = [`apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: platform\nspec:\n  order: 100\n  defaultAction: Pass\n`];
  for (let i = 0; i < n; i++) {
    docs.push(
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: platform.g${i}\nspec:\n  tier: platform\n  order: ${i}\n` +
        `  namespaceSelector: tenant == 't${i % 50}'\n  selector: all()\n  types: [Ingress, Egress]\n` +
        `  ingress:\n    - action: Pass\n      source:\n        namespaceSelector: tenant == 't${i % 50}' || role == 'shared'\n    - action: Deny\n      source:\n        namespaceSelector: has(tenant)\n` +
        `  egress:\n    - action: Deny\n      protocol: TCP\n      destination:\n        nets: [169.254.169.254/32]\n    - action: Pass\n`,
    );
  }
  return docs;
}

function adminPolicies(n: number): string[] {
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    docs.push(
      `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: anp-${i}\nspec:\n  priority: ${i * 10}\n` +
        `  subject:\n    namespaces: { matchLabels: { tenant: t${i % 50} } }\n` +
        `  egress:\n    - name: dns\n      action: Allow\n      to:\n        - pods:\n            namespaceSelector: { matchLabels: { role: shared } }\n            podSelector: { matchLabels: { app: auth } }\n` +
        `      ports:\n        - namedPort: dns\n        - portNumber: { protocol: UDP, port: 53 }\n` +
        `    - name: no-metadata\n      action: Deny\n      to:\n        - networks: [169.254.169.254/32]\n` +
        `  ingress:\n    - name: monitoring\n      action: Allow\n      from:\n        - namespaces: { matchLabels: { role: shared } }\n      ports:\n        - namedPort: metrics\n`,
    );
  }
  docs.push(
    `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata:\n  name: default\nspec:\n  subject:\n    namespaces: { matchLabels: { role: tenant } }\n` +
      `  ingress:\n    - name: closed\n      action: Deny\n      from:\n        - namespaces: {}\n`,
  );
  return docs;
}

/** Multi-document YAML of the generated cluster. */
export function multiTenantManifests(o: { pods: number; policies: number; namespaces: number; uniqueLabels?: boolean }): string {
  const docs: string[] = [];
  const shared = Math.max(1, Math.round(o.namespaces / 50));
  for (let n = 0; n < o.namespaces; n++) {
    const labels = n < shared ? `{ role: shared }` : `{ role: tenant, tenant: t${n % 50} }`;
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns${n}\n  labels: ${labels}\n`);
  }
  for (let p = 0; p < o.pods; p++) docs.push(podYaml(p, `ns${p % o.namespaces}`, o.uniqueLabels === true));
  const gnp = Math.min(40, Math.round(o.policies / 250));
  const anp = Math.min(10, Math.round(o.policies / 1000));
  const cnp = Math.round(o.policies * 0.05);
  const knp = Math.max(0, o.policies - gnp - anp - cnp);
  for (let i = 0; i < knp; i++) docs.push(k8sPolicy(i, `ns${i % o.namespaces}`, i % 50, o.namespaces));
  for (let i = 0; i < cnp; i++) docs.push(calicoPolicy(i, `ns${(i * 3) % o.namespaces}`));
  docs.push(...globalPolicies(gnp), ...adminPolicies(anp));
  return docs.join('---\n');
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function countRules(p: Program): number {
  let n = 0;
  for (const e of p.endpoints) for (const c of [e.ingress, e.egress]) for (const t of c.tiers) n += t.rules.length;
  return n;
}

function withFile<T>(text: string, fn: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-lower-'));
  try {
    const file = path.join(dir, 'cluster.yaml');
    fs.writeFileSync(file, text);
    return fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface LowerSample {
  pods: number;
  policies: number;
  namespaces: number;
  loadMs: number;
  lowerMs: number;
  optimizeMs: number;
  endpoints: number;
  rulesLowered: number;
  rulesOptimized: number;
}

export function measureLower(pods: number, policies: number, namespaces: number, uniqueLabels = false): LowerSample {
  return withFile(multiTenantManifests({ pods, policies, namespaces, uniqueLabels }), (file) => {
    const t0 = now();
    const { model } = loadModel([file]);
    const t1 = now();
    const lowered = lowerModel(model, new Diagnostics());
    const t2 = now();
    const optimized = optimize(lowered);
    const t3 = now();
    return {
      pods, policies, namespaces,
      loadMs: Math.round(t1 - t0), lowerMs: Math.round(t2 - t1), optimizeMs: Math.round(t3 - t2),
      endpoints: lowered.endpoints.length, rulesLowered: countRules(lowered), rulesOptimized: countRules(optimized),
    };
  });
}

function snapshotOne(inputs: string[], out: string): void {
  let model;
  try {
    model = loadModel(inputs).model;
  } catch {
    return; // an input the model rejects has no Program to compare
  }
  const lowered = lowerModel(model, new Diagnostics());
  fs.writeFileSync(`${out}.lowered.json`, JSON.stringify(lowered));
  fs.writeFileSync(`${out}.optimized.json`, JSON.stringify(optimize(lowered)));
}

export function snapshot(outDir: string): number {
  fs.mkdirSync(outDir, { recursive: true });
  const root = path.join(__dirname, '..', '..');
  let n = 0;
  const confDir = path.join(root, 'test', 'conformance');
  for (const suite of fs.readdirSync(confDir).sort()) {
    const d = path.join(confDir, suite);
    if (!fs.statSync(d).isDirectory()) continue;
    for (const f of fs.readdirSync(d).filter((x) => x.endsWith('.yaml')).sort()) {
      snapshotOne([path.join(d, f)], path.join(outDir, `${suite}__${f}`));
      n++;
    }
  }
  snapshotOne([path.join(root, 'examples', 'multi-tenant')], path.join(outDir, 'multi-tenant'));
  withFile(multiTenantManifests({ pods: 400, policies: 600, namespaces: 40 }), (file) => snapshotOne([file], path.join(outDir, 'generated-400-600')));
  return n + 2;
}

if (require.main === module) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'snapshot') {
    const n = snapshot(args[0] ?? path.join(os.tmpdir(), 'tg-lower-snapshot'));
    process.stdout.write(`${n} programs written\n`);
  } else if (mode === 'time') {
    const unique = args.includes('--unique-labels');
    const nums = args.filter((a) => a !== '--unique-labels');
    const [pods, policies, namespaces] = [Number(nums[0] ?? 5000), Number(nums[1] ?? 10000), Number(nums[2] ?? 500)];
    process.stdout.write(`${JSON.stringify({ ...measureLower(pods, policies, namespaces, unique), ...(unique ? { uniqueLabels: true } : {}) })}\n`);
  } else {
    process.stderr.write('usage: lower.ts time [PODS] [POLICIES] [NAMESPACES] [--unique-labels] | snapshot OUTDIR\n');
    process.exit(2);
  }
}
