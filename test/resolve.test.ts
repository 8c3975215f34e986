// Resolve: selector scoping (Kubernetes and Calico), endpoint sets, address sets, named ports.
import { strict as assert } from 'assert';
import { PROTO } from '../compiler/model/types';
import { Resolver, isEndpoint, resolveNamedPort, toCidrs } from '../compiler/resolve';
import { cnp, e2eWorld, entity, gnp, pod, sel } from './ir-support';

const ids = (pods: { namespace: string; name: string }[]): string[] => pods.map((p) => `${p.namespace}/${p.name}`);

describe('resolve', () => {
  it('endpoints: pods with an address and without hostNetwork, sorted', () => {
    const m = e2eWorld();
    m.pods.push(pod('a/host', ['192.168.0.1'], {}, [], { hostNetwork: true }), pod('a/pending', []));
    const r = new Resolver(m);
    assert.equal(r.endpoints.length, 9);
    assert.deepEqual(ids(r.endpoints).slice(0, 3), ['x/a', 'x/b', 'x/c']);
    assert.equal(isEndpoint(m.pods[9]), false);
  });

  it('Kubernetes peers: podSelector in the policy namespace, namespaceSelector alone = every pod there, both = AND', () => {
    const r = new Resolver(e2eWorld());
    assert.deepEqual(ids(r.k8sPeerPods('x', { kind: 'pods', podSelector: sel({ pod: 'a' }) })), ['x/a']);
    assert.deepEqual(ids(r.k8sPeerPods('x', { kind: 'pods', namespaceSelector: sel({ ns: 'y' }) })), ['y/a', 'y/b', 'y/c']);
    assert.deepEqual(ids(r.k8sPeerPods('x', { kind: 'pods', namespaceSelector: sel(), podSelector: sel({ pod: 'c' }) })), ['x/c', 'y/c', 'z/c']);
    // kubernetes.io/metadata.name is always a namespace label
    assert.deepEqual(ids(r.k8sPeerPods('x', { kind: 'pods', namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'z' }), podSelector: sel({ pod: 'b' }) })), ['z/b']);
  });

  it('Calico selectors: namespaced scope, GNP scope with global sets, namespaceSelector global(), Calico endpoint labels', () => {
    const m = e2eWorld();
    m.networkSets.push({ name: 'g', labels: { role: 'db' }, nets: ['192.168.0.0/24'], origin: { ref: { kind: 'GlobalNetworkSet', name: 'g' }, location: { file: 't' } } });
    m.networkSets.push({ namespace: 'y', name: 'n', labels: { role: 'db' }, nets: ['172.16.0.0/24'], origin: { ref: { kind: 'NetworkSet', name: 'n' }, location: { file: 't' } } });
    const r = new Resolver(m);
    const db = { op: 'eq' as const, key: 'role', value: 'db' };
    assert.deepEqual(toCidrs(r.calicoEntity('y', entity({ selector: db })).pos!), ['172.16.0.0/24']);
    assert.deepEqual(toCidrs(r.calicoEntity('x', entity({ selector: db })).pos!), []); // reaches nothing: matches nothing
    assert.deepEqual(toCidrs(r.calicoEntity(undefined, entity({ selector: db })).pos!), ['172.16.0.0/24', '192.168.0.0/24']);
    assert.deepEqual(toCidrs(r.calicoEntity('x', entity({ selector: db, namespaceSelector: { op: 'global' } })).pos!), ['192.168.0.0/24']);
    const byNs = r.calicoEntity('x', entity({ selector: { op: 'eq', key: 'projectcalico.org/namespace', value: 'z' }, namespaceSelector: { op: 'all' } }));
    assert.deepEqual(ids(byNs.pods!), ['z/a', 'z/b', 'z/c']);
    // nets AND selector; notNets and notSelector are exclusions, notSelector as written (every namespace)
    const e = r.calicoEntity('x', entity({ nets: ['10.0.1.0/30'], selector: { op: 'all' }, notSelector: { op: 'eq', key: 'pod', value: 'a' }, notNets: ['10.0.1.3/32'] }));
    assert.deepEqual(toCidrs(e.pos!), ['10.0.1.1/32', '10.0.1.2/31']); // the pods of x inside 10.0.1.0/30, merged
    assert.deepEqual(toCidrs(e.neg), ['10.0.1.1/32', '10.0.1.3/32', '10.0.2.1/32', '10.0.3.1/32', 'fd00::1:1/128', 'fd00::2:1/128', 'fd00::3:1/128']);
    // notSelector alone in a namespaced policy limits the entity to the namespace (libcalico-go getEndpointSelector)
    assert.deepEqual(ids(r.calicoEntity('x', entity({ notSelector: { op: 'eq', key: 'pod', value: 'a' } })).pods!), ['x/a', 'x/b', 'x/c']);
    assert.equal(r.calicoEntity(undefined, entity({ notSelector: { op: 'eq', key: 'pod', value: 'a' } })).pos, undefined);
  });

  it('Calico policy selection: namespace, types, namespaceSelector and serviceAccountSelector', () => {
    const m = e2eWorld();
    m.serviceAccounts.push({ namespace: 'y', name: 'default', labels: { trusted: 'yes' }, origin: { ref: { kind: 'ServiceAccount', name: 'default' }, location: { file: 't' } } });
    const r = new Resolver(m);
    const xa = m.pods[0];
    const ya = m.pods[3];
    assert.equal(r.calicoSelects(cnp('x/p', {}), xa, 'ingress'), true);
    assert.equal(r.calicoSelects(cnp('x/p', {}), ya, 'ingress'), false);
    assert.equal(r.calicoSelects(cnp('x/p', {}), xa, 'egress'), false);
    assert.equal(r.calicoSelects(gnp('g', { namespaceSelector: sel({ ns: 'y' }) }), ya, 'ingress'), true);
    assert.equal(r.calicoSelects(gnp('g', { namespaceSelector: sel({ ns: 'y' }) }), xa, 'ingress'), false);
    assert.equal(r.calicoSelects(gnp('g', { serviceAccountSelector: sel({ trusted: 'yes' }) }), ya, 'ingress'), true);
    assert.equal(r.calicoSelects(gnp('g', { serviceAccountSelector: sel({ trusted: 'yes' }) }), xa, 'ingress'), false);
  });

  it('named ports: by name and, when given, protocol', () => {
    const ports = [{ name: 'http', port: 80, protocol: PROTO.TCP }, { name: 'dns', port: 53, protocol: PROTO.UDP }, { name: 'dns', port: 53, protocol: PROTO.TCP }];
    assert.deepEqual(resolveNamedPort(ports, 'dns').map((p) => p.protocol), [PROTO.UDP, PROTO.TCP]);
    assert.deepEqual(resolveNamedPort(ports, 'http', PROTO.UDP), []);
    assert.deepEqual(resolveNamedPort(ports, 'nope'), []);
  });
});
