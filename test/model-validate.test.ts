// `tollgate validate`: the summary on success; InputError (exit 2 in main) carrying every error on bad input.
// Runs the command in-process on a fresh commander program, as cli/main.ts registers it.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command } from 'commander';
import { register, summarize } from '../compiler/cli/validate';
import { InputError } from '../compiler/model/diagnostics';
import { emptyModel } from '../compiler/model/build';

const EXAMPLE = path.resolve(__dirname, '..', 'examples', 'multi-tenant');

async function validate(args: string[]): Promise<{ out: string; err: string; error?: unknown }> {
  const program = new Command('tollgate').exitOverride();
  register(program);
  let out = '';
  let err = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    await program.parseAsync(['validate', ...args], { from: 'user' });
    return { out, err };
  } catch (error) {
    return { out, err, error };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

describe('tollgate validate', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-validate-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Validates `text` as file `name`: an InputError (exit 2), nothing printed, exactly `lines` (file shown as F). */
  async function expectInputError(name: string, text: string, lines: string[]): Promise<void> {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    const r = await validate([f]);
    assert.ok(r.error instanceof InputError);
    assert.equal((r.error as InputError).exitCode, 2);
    assert.equal(r.out, '');
    assert.deepEqual((r.error as InputError).message.split('\n').map((l) => l.replace(f, 'F')), lines);
  }

  it('prints objects per kind for the shipped example', async () => {
    const r = await validate([EXAMPLE]);
    assert.equal(r.error, undefined);
    assert.equal(r.err, '');
    const lines = r.out.trim().split('\n');
    assert.equal(lines[0], 'valid: 21 objects, 0 warnings');
    assert.ok(lines.includes('  Pod                                7'), r.out);
    assert.ok(lines.includes('  BaselineAdminNetworkPolicy         1'), r.out);
  });

  it('prints warnings and counts them', async () => {
    const f = path.join(dir, 'w.yaml');
    fs.writeFileSync(f, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n');
    const r = await validate([f]);
    assert.equal(r.error, undefined);
    assert.match(r.out, /^valid: 1 object, 2 warnings\n  Pod  1\n  \(namespaces not declared, assumed: x\)/);
    assert.equal(r.err.trim().split('\n').length, 2);
    assert.match(r.err, /w\.yaml:1:1: warning: Pod x\/p: status: pod has no IP address/);
  });

  it('throws InputError (exit 2) with every error and does not print a summary', async () => {
    await expectInputError('e.yaml', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress: [{ports: [{port: 0}, {protocol: XTP}]}]\n', [
      'F:5:29: error: NetworkPolicy default/n: spec.ingress[0].ports[0].port: expected a port number in 1..65535, found 0',
      'F:5:44: error: NetworkPolicy default/n: spec.ingress[0].ports[1].protocol: expected a protocol (one of TCP, UDP, SCTP), found "XTP"',
    ]);
  });

  it('refuses a misspelt field in a policy (exit 2): ignoring `port:` would allow every port', async () => {
    await expectInputError('typo.yaml', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress: [{port: [{port: 80}]}]\n', [
      'F:6:20: error: NetworkPolicy default/n: spec.ingress[0].port: unknown field "port" (did you mean ports?); expected one of from, ports',
    ]);
  });

  it('--tenant rejects policy outside the tenant and accepts its own', async () => {
    const own = await validate(['--tenant', 'tenant-a', path.join(EXAMPLE, '40-tenant-a.yaml'), path.join(EXAMPLE, '10-pods.yaml')]);
    assert.equal(own.error, undefined);
    assert.match(own.out, /^valid: 10 objects \(tenant tenant-a\), 0 warnings/);
    const other = await validate(['--tenant', 'tenant-a,tenant-c', EXAMPLE]);
    assert.ok(other.error instanceof InputError);
    const codes = (other.error as InputError).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.object?.kind} ${d.object?.name}`);
    assert.deepEqual(codes.sort(), [
      'AdminNetworkPolicy platform-guarantees', 'BaselineAdminNetworkPolicy default',
      'GlobalNetworkPolicy platform.isolate-tenant-a', 'GlobalNetworkPolicy platform.isolate-tenant-b', 'GlobalNetworkPolicy platform.shared-services',
      'NetworkPolicy db-from-web', 'NetworkPolicy web-open', 'Tier platform',
    ]);
  });

  it('summary of an empty model', () => {
    assert.equal(summarize(emptyModel(), 0), 'valid: 0 objects, 0 warnings\n  (tier default not declared, assumed with order 1000000)\n');
  });
});
