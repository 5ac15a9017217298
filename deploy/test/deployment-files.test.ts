/**
 * The deployment files say what deploy/README.md promises: docker-compose.yml (hardening, secrets as files, health and
 * start order), the Kubernetes manifests (readiness, disruption budget, signer sidecar on an in-memory socket volume,
 * default-deny network policy, secrets as files), the Dockerfile and ignore files, and a production entry point whose
 * static imports reach no development tool. The running stack is deploy/test/compose-smoke.sh.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const DEV_TOOLS = [
  '@clawd402/testkit',
  '@electric-sql/pglite',
  '@electric-sql/pglite-socket',
  '@foundry-rs/anvil',
  'solc',
  'tsx',
  'typescript',
];

type Service = Record<string, any>;
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file?: string }>;
  volumes: Record<string, unknown>;
};

describe('docker-compose.yml', { timeout: 60_000 }, () => {
  it('runs Postgres, Redis, a migration job, two gateway replicas and the signer', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), [
      'gateway-1',
      'gateway-2',
      'migrate',
      'postgres',
      'redis',
      'signer',
    ]);
    assert.deepEqual(compose.services.migrate!.command, ['migrate']);
    for (const g of ['gateway-1', 'gateway-2']) assert.deepEqual(compose.services[g]!.command, ['gateway']);
  });

  it('hardens every service: read-only root, tmpfs, no capabilities, no-new-privileges, no core dumps, memory and CPU limits', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      assert.equal(s.read_only, true, name);
      assert.ok(Array.isArray(s.tmpfs) && s.tmpfs.some((t: string) => t.startsWith('/tmp')), `${name} tmpfs`);
      assert.deepEqual(s.cap_drop, ['ALL'], name);
      assert.ok(s.security_opt.includes('no-new-privileges:true'), name);
      assert.equal(s.ulimits.core, 0, name);
      assert.match(String(s.mem_limit), /^\d+[mg]$/, `${name} mem_limit`);
      assert.ok(typeof s.cpus === 'number' && s.cpus > 0, `${name} cpus`);
    }
  });

  it('isolates the signer: no network, non-root, its state on its own volume, only the socket volume shared', () => {
    const signer = compose.services.signer!;
    assert.equal(signer.network_mode, 'none');
    assert.match(signer.user, /^[1-9]\d*:[1-9]\d*$/);
    assert.deepEqual(signer.volumes.map((v: string) => v.split(':')[0]).slice(0, 2), ['signer-state', 'signer-socket']);
    for (const g of ['gateway-1', 'gateway-2']) {
      const gateway = compose.services[g]!;
      assert.ok(
        !gateway.volumes.some((v: string) => v.startsWith('signer-state')),
        `${g} must not see the signer's state`,
      );
      assert.ok(gateway.volumes.includes('signer-socket:/run/clawd402-signer'), g);
      // The socket is 0600: the gateway connects as the signer's uid (apps/signer/README.md, "Socket access").
      assert.equal(gateway.user, signer.user, g);
    }
  });

  it('passes every secret as a file: Docker secrets, *_FILE variables, nothing secret in the environment', () => {
    for (const [name, secret] of Object.entries(compose.secrets)) assert.ok(secret.file, `${name} is a file`);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries((s.environment ?? {}) as Record<string, string>)) {
        assert.ok(
          !/(PASSWORD|SECRET|PRIVATE|TOKEN|_URL)$/i.test(key) || key.endsWith('_FILE'),
          `${name}: ${key} must be a *_FILE`,
        );
        if (key.endsWith('_FILE')) assert.match(value, /^\/(run\/secrets|etc\/clawd402)\//, `${name}: ${key}`);
      }
    }
    assert.deepEqual(compose.services.signer!.secrets.sort(), ['signer_password', 'ticket_public_key']);
  });

  it('starts in order on health: gateways after the migration job exits 0 and Redis and the signer are healthy', () => {
    for (const g of ['gateway-1', 'gateway-2']) {
      assert.deepEqual(compose.services[g]!.depends_on, {
        migrate: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
        signer: { condition: 'service_healthy' },
      });
    }
    assert.deepEqual(compose.services.migrate!.depends_on, { postgres: { condition: 'service_healthy' } });
    for (const name of ['postgres', 'redis', 'signer', 'gateway-1', 'gateway-2'])
      assert.ok(compose.services[name]!.healthcheck.test, name);
  });

  it('publishes the gateways on loopback only, in the default override that host networking leaves out', () => {
    const override = parse(read('docker-compose.override.yml')) as { services: Record<string, Service> };
    assert.deepEqual(override.services, {
      'gateway-1': { ports: ['127.0.0.1:8402:8402'] },
      'gateway-2': { ports: ['127.0.0.1:8403:8402'] },
    });
    for (const s of Object.values(compose.services)) assert.equal(s.ports, undefined);
  });

  it('is accepted by docker-compose config (with and without the smoke test override)', (t) => {
    const probe = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (probe.error) {
      t.skip('docker-compose is not installed here (deploy/test/compose-smoke.sh installs it and runs the same check)');
      return;
    }
    // No -f: docker-compose.yml with docker-compose.override.yml, as `docker compose up` reads them.
    for (const files of [[], ['docker-compose.yml'], ['docker-compose.yml', 'deploy/test/compose.host.yml']]) {
      const result = spawnSync('docker-compose', [...files.flatMap((f) => ['-f', f]), 'config', '-q'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, `${files.join(' + ')}: ${result.stderr}`);
    }
  });
});

const manifests = readdirSync(join(ROOT, 'deploy/k8s'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(read(`deploy/k8s/${f}`)).map((doc) => {
      assert.deepEqual(doc.errors, [], f);
      return doc.toJS() as Record<string, any>;
    }),
  );
const byKind = (kind: string): Record<string, any>[] => manifests.filter((m) => m.kind === kind);

describe('deploy/k8s', { timeout: 60_000 }, () => {
  const deployment = byKind('Deployment')[0]!;
  const pod = deployment.spec.template.spec;
  const gateway = pod.containers.find((c: any) => c.name === 'gateway');
  const signer = pod.initContainers.find((c: any) => c.name === 'signer');

  it('runs the gateway as a Deployment, ready on GET /health, behind a PodDisruptionBudget', () => {
    assert.deepEqual(gateway.readinessProbe.httpGet, { path: '/health', port: 'http' });
    assert.ok(deployment.spec.replicas >= 2);
    const pdb = byKind('PodDisruptionBudget')[0]!;
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    assert.equal(pdb.spec.maxUnavailable, 1);
  });

  it('runs the signer as a sidecar sharing only an in-memory socket volume with the gateway', () => {
    assert.equal(signer.restartPolicy, 'Always');
    const socketVolume = pod.volumes.find((v: any) => v.name === 'signer-socket');
    assert.equal(socketVolume.emptyDir.medium, 'Memory');
    const mounts = (c: any): string[] => c.volumeMounts.map((m: any) => m.name);
    assert.deepEqual(
      mounts(gateway)
        .filter((m: string) => mounts(signer).includes(m))
        .sort(),
      ['policy', 'signer-socket'],
    );
    assert.ok(signer.args.includes('--journal') && signer.args.includes('--policy'));
  });

  it('runs every container non-root with a read-only root file system and no capabilities', () => {
    for (const spec of [pod, byKind('Job')[0]!.spec.template.spec]) {
      assert.equal(spec.securityContext.runAsNonRoot, true);
      assert.equal(spec.automountServiceAccountToken, false);
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
        assert.ok(c.resources.limits.memory && c.resources.limits.cpu, c.name);
      }
    }
  });

  it('mounts secrets as files and never puts one in the environment', () => {
    for (const c of [gateway, signer]) {
      for (const e of c.env) {
        assert.equal(e.valueFrom, undefined, `${c.name} ${e.name}`);
        if (e.name.endsWith('_FILE'))
          assert.match(e.value, e.name === 'POLICY_FILE' ? /^\/etc\/clawd402\// : /^\/run\/secrets\//, e.name);
      }
    }
    const secretVolumes = pod.volumes.filter((v: any) => v.secret);
    assert.deepEqual(
      secretVolumes.map((v: any) => v.secret.defaultMode),
      [0o400, 0o400],
    );
  });

  it('denies all traffic by default and lets the gateway pod reach only DNS, Postgres, Redis and public HTTPS', () => {
    const policies = byKind('NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny-all')!;
    assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const gw = policies.find((p) => p.metadata.name === 'clawd402-gateway')!;
    const ports = gw.spec.egress
      .flatMap((rule: any) => rule.ports.map((p: any) => p.port))
      .sort((a: number, b: number) => a - b);
    assert.deepEqual(ports, [53, 53, 443, 5432, 6379]);
    const https = gw.spec.egress.find((rule: any) => rule.to[0].ipBlock);
    assert.ok(
      https.to[0].ipBlock.except.includes('10.0.0.0/8') && https.to[0].ipBlock.except.includes('169.254.0.0/16'),
    );
  });
});

describe('image and repository hygiene', { timeout: 60_000 }, () => {
  it('Dockerfile: digest-pinned base selectable by BASE_IMAGE, non-root user, HEALTHCHECK, one entry point', () => {
    const dockerfile = read('Dockerfile');
    assert.match(dockerfile, /^ARG BASE_IMAGE=node:20-bookworm-slim@sha256:[0-9a-f]{64}$/m);
    assert.match(dockerfile, /^USER 10402:10402$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\["node", "\/app\/entrypoint\.mjs", "healthcheck"\]$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "--conditions=clawd402-dist", "\/app\/entrypoint\.mjs"\]$/m);
    assert.match(dockerfile, /deploy --legacy --prod/);
  });

  it('.dockerignore keeps .git, node_modules, local state, secrets and tests out; .gitignore covers secrets', () => {
    const ignore = read('.dockerignore').split('\n');
    for (const entry of [
      '.git',
      '**/node_modules',
      '.clawd402',
      '.env*',
      '**/*.pem',
      '**/*.key',
      '**/secrets',
      '**/test',
    ])
      assert.ok(ignore.includes(entry), entry);
    const gitignore = read('.gitignore').split('\n');
    for (const entry of ['.env*', '*.pem', '*.key']) assert.ok(gitignore.includes(entry), entry);
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0');
    assert.deepEqual(
      tracked.filter((f) => /(^|\/)\.env|\.pem$|\.key$/.test(f)),
      [],
    );
  });

  it('the gateway and signer ship no development tool as a runtime dependency', () => {
    for (const app of ['apps/gateway', 'apps/signer']) {
      const dependencies = Object.keys(
        (JSON.parse(read(`${app}/package.json`)) as { dependencies: Record<string, string> }).dependencies,
      );
      assert.deepEqual(
        dependencies.filter((d) => DEV_TOOLS.includes(d)),
        [],
        app,
      );
    }
  });

  it("the production entry points' static imports reach no development tool", () => {
    for (const entry of ['apps/gateway/src/server.ts', 'apps/gateway/src/cli/migrate.ts', 'apps/signer/src/cli.ts']) {
      const seen = new Set<string>();
      const bare = new Set<string>();
      const visit = (file: string): void => {
        if (seen.has(file)) return;
        seen.add(file);
        // Static imports and re-exports only: `import('…')` is how dev-only code loads its tools.
        for (const [, spec] of readFileSync(file, 'utf8').matchAll(
          /^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms,
        )) {
          if (spec!.startsWith('.')) visit(resolve(dirname(file), spec!));
          else bare.add(spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!);
        }
      };
      visit(join(ROOT, entry));
      assert.ok(seen.size > 3, `${entry}: followed ${seen.size} files`);
      assert.deepEqual(
        [...bare].filter((d) => DEV_TOOLS.includes(d)),
        [],
        entry,
      );
    }
  });
});
