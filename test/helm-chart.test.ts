import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The Helm chart (deploy/helm/airlock), checked offline with the tools scripts/setup.sh --test builds into .cache/tools:
 * helm lint, every values fixture rendered and validated by kubeconform against the Kubernetes schemas of the
 * kubernetes-validate wheel, the refused fixtures refused with their message, the helm-unittest suites, and real
 * installs on a kube-apiserver with etcd (API validation and Pod Security admission; no pods run).
 */

const repository = fileURLToPath(new URL('..', import.meta.url));
const chart = join(repository, 'deploy/helm/airlock');
const fixtures = join(repository, 'deploy/helm/tests');
const setupScript = readFileSync(join(repository, 'scripts/setup.sh'), 'utf8');

interface Tools {
  helm: string;
  kubeconform: string;
  helmUnittest: string;
  /** Schema directory per Kubernetes version (`1.37.0`). */
  schemas: Map<string, string>;
}

/** A tool at the version scripts/setup.sh pins; a missing one fails the test (CI never skips these checks). */
function pinnedTool(name: string): string {
  const pinned = new RegExp(`^\\s*go_(?:module_)?tool ${name} (\\S+) `, 'm').exec(setupScript)?.[1];
  // A version given as "$variable" is that variable's assignment in the script.
  const variable = /^"?\$(\w+)"?$/.exec(pinned ?? '')?.[1];
  const version = variable === undefined ? pinned : new RegExp(`^\\s*${variable}=(\\S+)$`, 'm').exec(setupScript)?.[1];
  if (version === undefined) throw new Error(`scripts/setup.sh pins no version of ${name}`);
  const path = join(repository, '.cache/tools', `${name}-${version}`, name);
  if (!existsSync(path)) throw new Error(`${path} is missing; run: bash scripts/setup.sh --test`);
  return path;
}

function run(command: string, args: string[], options: { input?: string; cwd?: string } = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, cwd: options.cwd ?? repository, input: options.input });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function findTools(): Tools {
  const listed = run('/usr/bin/python3', ['scripts/kubernetes-schemas.py', '--paths']);
  if (listed.status !== 0) throw new Error(listed.stderr);
  const schemas = new Map<string, string>();
  for (const directory of listed.stdout.trim().split('\n')) schemas.set(/-(\d+\.\d+\.\d+)$/.exec(directory)![1]!, directory);
  return { helm: pinnedTool('helm'), kubeconform: pinnedTool('kubeconform'), helmUnittest: pinnedTool('helm-unittest'), schemas };
}

const yamlFiles = (directory: string) => readdirSync(join(fixtures, directory)).filter((name) => name.endsWith('.yaml')).sort();

interface Validated {
  kind: string;
  name: string;
  status: string;
  msg: string;
}

describe('Helm chart deploy/helm/airlock', () => {
  let tools: Tools;
  beforeAll(() => {
    tools = findTools();
  });

  const render = (values: string[], kubeVersion: string) =>
    run(tools.helm, ['template', 'airlock', chart, '--namespace', 'airlock', '--kube-version', kubeVersion, ...values.flatMap((file) => ['-f', file])]);

  it('passes helm lint --strict with its defaults and with every fixture', () => {
    for (const values of [[], ...yamlFiles('values').map((name) => [join(fixtures, 'values', name)])]) {
      const linted = run(tools.helm, ['lint', '--strict', chart, ...values.flatMap((file) => ['-f', file])]);
      expect(linted.status, `${values.join()}\n${linted.stdout}${linted.stderr}`).toBe(0);
    }
  });

  it('runs the version of Airlock the CLI package carries, in the image the container build makes', () => {
    const appVersion = /^appVersion: "(.+)"$/m.exec(readFileSync(join(chart, 'Chart.yaml'), 'utf8'))?.[1];
    const cliVersion = (JSON.parse(readFileSync(join(repository, 'packages/cli/package.json'), 'utf8')) as { version: string }).version;
    expect(appVersion).toBe(cliVersion);
    const rendered = render([], '1.37.0');
    expect(rendered.stdout).toContain(`image: localhost/airlock:${cliVersion}\n`);
  });

  /** Kinds each fixture must render, besides the ServiceAccount, ConfigMap, Service and test Pod every one has. */
  const expectedKinds: Record<string, string[]> = {
    'daemonset.yaml': ['DaemonSet', 'Secret', 'PodDisruptionBudget'],
    'embedded-single-node.yaml': ['Deployment', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'PodDisruptionBudget'],
    'ingress-monitoring-networkpolicy.yaml': ['Deployment', 'Ingress', 'ServiceMonitor', 'NetworkPolicy', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'PodDisruptionBudget'],
    'mode-capabilities.yaml': ['Deployment', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'PodDisruptionBudget'],
    'mode-privileged.yaml': ['Deployment', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'PodDisruptionBudget'],
    'mode-user-namespaces-crio.yaml': ['Deployment', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'PodDisruptionBudget'],
    'multi-node-postgres-s3.yaml': ['Deployment', 'PodDisruptionBudget'],
    'runtime-class.yaml': ['Deployment', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'PodDisruptionBudget'],
  };

  it('has an expectation for every values fixture', () => {
    expect(yamlFiles('values')).toEqual(Object.keys(expectedKinds).sort());
  });

  it.each(Object.keys(expectedKinds))('renders %s into objects kubeconform -strict finds valid for Kubernetes 1.36 and 1.37', (fixture) => {
    for (const [kubeVersion, schemas] of tools.schemas) {
      const rendered = render([join(fixtures, 'values', fixture)], kubeVersion);
      expect(rendered.status, rendered.stderr).toBe(0);
      const schemaLocation = `${schemas}/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`;
      const validated = run(
        tools.kubeconform,
        ['-strict', '-output', 'json', '-verbose', '-kubernetes-version', kubeVersion, '-schema-location', schemaLocation, '-'],
        { input: rendered.stdout },
      );
      const resources = (JSON.parse(validated.stdout) as { resources: Validated[] }).resources;
      expect(resources.filter((resource) => resource.status !== 'statusValid'), `Kubernetes ${kubeVersion}`).toEqual([]);
      expect(validated.status).toBe(0);
      const kinds = resources.map((resource) => resource.kind).sort();
      expect(kinds).toEqual([...expectedKinds[fixture]!, 'ServiceAccount', 'ConfigMap', 'Service', 'Pod'].sort());
    }
  });

  it.each(yamlFiles('refused'))('refuses %s with the message its first line gives', (fixture) => {
    const path = join(fixtures, 'refused', fixture);
    const message = /^# Refused: (.+)$/m.exec(readFileSync(path, 'utf8'))?.[1];
    expect(message, `${fixture} names no message`).toBeDefined();
    const rendered = render([path], '1.37.0');
    expect(rendered.status).not.toBe(0);
    expect(rendered.stderr).toContain(message);
  });

  it('refuses the userNamespaces mode on Kubernetes older than 1.33 and takes capabilities there', () => {
    const refused = render([], '1.32.0');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('security.mode userNamespaces needs Kubernetes 1.33 or newer');
    expect(render([join(fixtures, 'values', 'mode-capabilities.yaml')], '1.32.0').status).toBe(0);
  });

  it('passes its helm-unittest suites (security modes, secrets, draining, workload)', () => {
    const suites = readdirSync(join(chart, 'tests')).filter((name) => name.endsWith('_test.yaml'));
    expect(suites.sort()).toEqual(['drain_test.yaml', 'secrets_test.yaml', 'security_test.yaml', 'workload_test.yaml']);
    const tested = run(tools.helmUnittest, ['--strict', '--color=false', chart]);
    expect(tested.status, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(new RegExp(`Test Suites:\\s+${suites.length} passed, ${suites.length} total`));
  });

  it('ships the seccomp profile its generator writes (containerd\'s default for the capability list, plus pivot_root)', () => {
    const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
    const generated = run(go, ['run', '.'], { cwd: join(repository, 'deploy/helm/seccomp-profile') });
    expect(generated.status, generated.stderr).toBe(0);
    const shipped = readFileSync(join(chart, 'files/seccomp-profile.json'), 'utf8');
    expect(generated.stdout).toBe(shipped);
    const profile = JSON.parse(shipped) as { defaultAction: string; syscalls: { names: string[]; action: string; args?: unknown[] }[] };
    const allowed = new Set(profile.syscalls.filter((rule) => rule.action === 'SCMP_ACT_ALLOW' && !rule.args?.length).flatMap((rule) => rule.names));
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    for (const call of ['pivot_root', 'unshare', 'mount', 'umount2', 'setns', 'clone', 'clone3', 'chroot']) expect(allowed, call).toContain(call);
    for (const call of ['kexec_load', 'init_module', 'keyctl', 'io_uring_setup']) expect(allowed, call).not.toContain(call);
  });

  it('documents every value in its README', () => {
    const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as SchemaNode;
    const readme = readFileSync(join(chart, 'README.md'), 'utf8');
    const undocumented = valuePaths(schema, schema).filter((path) => path !== 'global' && !readme.includes(`\`${path}\``));
    expect(undocumented).toEqual([]);
  });
});

interface SchemaNode {
  $ref?: string;
  allOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  definitions?: Record<string, SchemaNode>;
}

/**
 * The values' paths the README documents: objects of named settings are walked into; secret items (value and
 * existingSecret), egress targets (to and ports) and Kubernetes objects passed on are documented as a whole.
 */
function valuePaths(node: SchemaNode, root: SchemaNode, prefix = ''): string[] {
  const resolved = node.$ref ? root.definitions![basename(node.$ref)]! : node;
  if (resolved.allOf) return valuePaths(resolved.allOf[0]!, root, prefix);
  const properties = resolved.properties;
  const documentedWhole = node.$ref === '#/definitions/secretItem' || node.$ref === '#/definitions/egressTarget';
  if (!properties || documentedWhole || prefix.endsWith('Probe') || /(^|\.)(seLinuxOptions|updateStrategy|resources|doctorResources)$/.test(prefix)) {
    return [prefix];
  }
  return Object.entries(properties).flatMap(([key, child]) => valuePaths(child, root, prefix ? `${prefix}.${key}` : key));
}

describe('Helm chart deploy/helm/airlock installed on kube-apiserver 1.37 (no nodes: objects are stored, no pod runs)', () => {
  let kubernetes: Kubernetes;
  let helm: string;
  beforeAll(async () => {
    helm = pinnedTool('helm');
    kubernetes = await startKubernetes();
    await kubernetes.installServiceMonitorCrd();
  }, 120_000);
  afterAll(() => kubernetes?.stop());

  const install = (namespace: string, values: string[], sets: string[] = []) => {
    const installed = run(helm, [
      'install', 'airlock', chart, '--namespace', namespace, '--kubeconfig', kubernetes.kubeconfig,
      ...values.flatMap((file) => ['-f', file]), ...sets.flatMap((set) => ['--set', set]),
    ]);
    // client-go prints the API server's warnings through klog, quoted.
    return { ...installed, warnings: installed.stderr.replaceAll('\\"', '"') };
  };

  it.each(yamlFiles('values'))('installs %s: the API server takes every object', async (fixture) => {
    const namespace = `fixture-${fixture.replace('.yaml', '')}`;
    await kubernetes.createNamespace(namespace, { enforce: 'privileged' });
    const installed = install(namespace, [join(fixtures, 'values', fixture)]);
    expect(installed.status, installed.stderr).toBe(0);
    expect(installed.stdout).toContain('STATUS: deployed');
  });

  /** Per mode: the values, and the baseline checks its pod template violates (and must not). */
  const modes = [
    { mode: 'userNamespaces', sets: [], violates: ['non-default capabilities', '"NET_ADMIN", "SYS_ADMIN"', 'forbidden AppArmor profile'], keeps: ['procMount', 'privileged'] },
    {
      mode: 'userNamespaces with a Localhost AppArmor profile',
      sets: ['security.appArmorProfile.type=Localhost', 'security.appArmorProfile.localhostProfile=airlock'],
      violates: ['non-default capabilities'],
      keeps: ['AppArmor', 'procMount', 'privileged'],
    },
    { mode: 'capabilities', sets: ['security.mode=capabilities'], violates: ['non-default capabilities', 'forbidden AppArmor profile'], keeps: ['privileged'] },
    { mode: 'privileged', sets: ['security.mode=privileged'], violates: ['privileged (containers "doctor", "airlock" must not set securityContext.privileged=true)'], keeps: ['AppArmor'] },
  ];

  it.each(modes)('$mode needs the privileged Pod Security level: baseline refuses its pods', async ({ mode, sets, violates, keeps }) => {
    const namespace = `pss-${mode.split(' ')[0]!.toLowerCase()}-${sets.length}`;
    await kubernetes.createNamespace(namespace, { enforce: 'privileged', warn: 'baseline' });
    const installed = install(namespace, [], sets);
    expect(installed.status, installed.stderr).toBe(0);
    const warning = /would violate PodSecurity "baseline:latest": (.*)/.exec(installed.warnings)?.[1];
    expect(warning, installed.warnings).toBeDefined();
    for (const violation of violates) expect(warning).toContain(violation);
    for (const kept of keeps) expect(warning).not.toContain(kept);
    // The Deployment's pod, as its ReplicaSet would create it: refused where baseline is enforced, taken where privileged is.
    const deployment = JSON.parse((await kubernetes.api('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/airlock`)).body) as {
      spec: { template: { metadata: Record<string, unknown>; spec: unknown } };
    };
    const pod = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { ...deployment.spec.template.metadata, name: 'airlock-pod' }, spec: deployment.spec.template.spec });
    await kubernetes.createNamespace('enforce-baseline', { enforce: 'baseline' }, ['airlock']);
    const refused = await kubernetes.api('POST', '/api/v1/namespaces/enforce-baseline/pods?dryRun=All', pod);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('violates PodSecurity \\"baseline:latest\\"');
    const taken = await kubernetes.api('POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All`, pod);
    expect(taken.status, taken.body).toBe(201);
  });

  it('its helm test pod meets the restricted level', async () => {
    await kubernetes.createNamespace('enforce-restricted', { enforce: 'restricted' });
    const rendered = run(helm, ['template', 'airlock', chart, '--namespace', 'enforce-restricted', '--show-only', 'templates/tests/test-readyz.yaml']);
    expect(rendered.status, rendered.stderr).toBe(0);
    const created = await kubernetes.api('POST', '/api/v1/namespaces/enforce-restricted/pods?dryRun=All', rendered.stdout, 'application/yaml');
    expect(created.status, created.body).toBe(201);
  });
});

interface Kubernetes {
  kubeconfig: string;
  api(method: string, path: string, body?: string, contentType?: string): Promise<{ status: number; body: string }>;
  /**
   * A namespace with Pod Security labels, and the service accounts its pods name: `default`, unless others are given
   * (no controller makes them here).
   */
  createNamespace(name: string, podSecurity: Record<string, string>, serviceAccounts?: string[]): Promise<void>;
  installServiceMonitorCrd(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** etcd and kube-apiserver on loopback ports, in a directory of their own that stop() removes with them. */
async function startKubernetes(): Promise<Kubernetes> {
  const directory = await mkdtemp(join(tmpdir(), 'airlock-kubernetes-'));
  const processes: ChildProcess[] = [];
  const logs: string[] = [];
  const stop = async () => {
    for (const child of processes.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
    await rm(directory, { recursive: true, force: true });
  };
  const start = (path: string, args: string[]) => {
    const child = spawn(path, args, { cwd: directory, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    processes.push(child);
    return child;
  };
  try {
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    start(pinnedTool('etcd'), [
      '--data-dir', join(directory, 'etcd'), '--log-level', 'error',
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `default=http://127.0.0.1:${etcdPeer}`,
    ]);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(directory, 'service-account.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(join(directory, 'service-account.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const token = 'chart-test-token';
    await writeFile(join(directory, 'tokens.csv'), `${token},chart-test,chart-test,"system:masters"\n`);
    const apiserver = start(pinnedTool('kube-apiserver'), [
      '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
      '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort),
      '--endpoint-reconciler-type', 'none', '--cert-dir', join(directory, 'certificates'),
      '--service-account-issuer', 'https://kubernetes.default.svc', '--service-cluster-ip-range', '10.96.0.0/24',
      '--service-account-key-file', join(directory, 'service-account.pub'),
      '--service-account-signing-key-file', join(directory, 'service-account.key'),
      '--authorization-mode', 'RBAC', '--token-auth-file', join(directory, 'tokens.csv'),
      // As clusters that run privileged pods are configured (kubeadm's default).
      '--allow-privileged=true',
    ]);
    const certificates = join(directory, 'certificates', 'apiserver.crt');
    const api: Kubernetes['api'] = (method, path, body, contentType = 'application/json') =>
      new Promise((resolve, reject) => {
        const sent = request(
          { host: '127.0.0.1', port: apiPort, method, path, ca: readFileSync(certificates), headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType } },
          (response) => {
            let received = '';
            response.on('data', (chunk: Buffer) => (received += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode!, body: received }));
          },
        );
        sent.on('error', reject);
        sent.end(body);
      });
    for (let waited = 0; ; waited += 250) {
      if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited:\n${logs.join('').slice(-4000)}`);
      const ready = existsSync(certificates) ? await api('GET', '/readyz').catch(() => null) : null;
      if (ready?.status === 200) break;
      if (waited > 60_000) throw new Error(`kube-apiserver not ready after 60 s:\n${logs.join('').slice(-4000)}`);
      await sleep(250);
    }
    const kubeconfig = join(directory, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: `https://127.0.0.1:${apiPort}`, 'certificate-authority': certificates } }],
        users: [{ name: 'test', user: { token } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
        'current-context': 'test',
      }),
    );
    const created = new Set<string>();
    return {
      kubeconfig,
      api,
      async createNamespace(name, podSecurity, serviceAccounts = ['default']) {
        if (created.has(name)) return;
        const labels = Object.fromEntries(Object.entries(podSecurity).map(([mode, level]) => [`pod-security.kubernetes.io/${mode}`, level]));
        const response = await api('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
        if (response.status !== 201) throw new Error(`namespace ${name}: ${response.status} ${response.body}`);
        for (const account of serviceAccounts) {
          const made = await api('POST', `/api/v1/namespaces/${name}/serviceaccounts`, JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account } }));
          if (made.status !== 201) throw new Error(`service account ${name}/${account}: ${made.status} ${made.body}`);
        }
        created.add(name);
      },
      async installServiceMonitorCrd() {
        // The CRD of the prometheus-operator version scripts/kubernetes-schemas.py makes the ServiceMonitor schema from.
        const version = /^PROMETHEUS_OPERATOR_VERSION = '(v[^']+)'$/m.exec(readFileSync(join(repository, 'scripts/kubernetes-schemas.py'), 'utf8'))![1]!;
        const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
        const downloaded = run(go, ['mod', 'download', '-json', `github.com/prometheus-operator/prometheus-operator@${version}`], { cwd: directory });
        if (downloaded.status !== 0) throw new Error(downloaded.stderr);
        const crd = readFileSync(join((JSON.parse(downloaded.stdout) as { Dir: string }).Dir, 'jsonnet/prometheus-operator/servicemonitors-crd.json'), 'utf8');
        const response = await api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
        if (response.status !== 201) throw new Error(`ServiceMonitor CRD: ${response.status} ${response.body}`);
        for (let waited = 0; (await api('GET', '/apis/monitoring.coreos.com/v1')).status !== 200; waited += 250) {
          if (waited > 30_000) throw new Error('the ServiceMonitor CRD was not served within 30 s');
          await sleep(250);
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
