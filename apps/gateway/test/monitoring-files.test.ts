import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { createMetrics } from '../src/metrics.ts';

const DIR = new URL('../../../deploy/monitoring/', import.meta.url);
const METRIC = /\bclawd402_[a-z0-9_]+/g;
const SERIES_SUFFIX = /_(bucket|count|sum)$/;

/** Every family the gateway registers (the scrape-time gauges included). */
function registeredNames(): Set<string> {
  const metrics = createMetrics({
    snapshot: async () => ({ scopes: [], approvalsPending: 0, outbox: { pending: 0, dead: 0 }, jobLastSuccess: [] }),
  });
  return new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
}

/** Metric names an expression uses, histogram series mapped to their family. */
function namesIn(expr: string): string[] {
  return [...expr.matchAll(METRIC)].map((m) => m[0].replace(SERIES_SUFFIX, ''));
}

describe('deploy/monitoring: the Grafana dashboard and the Prometheus alert rules', { timeout: 60_000 }, () => {
  const known = registeredNames();

  it('the dashboard is JSON whose every query names metrics the gateway exposes', () => {
    const dashboard = JSON.parse(readFileSync(new URL('grafana-dashboard.json', DIR), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    assert.ok(dashboard.panels.length > 0);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const names = namesIn(target.expr);
        assert.ok(names.length > 0, `${panel.title}: ${target.expr} names no metric`);
        for (const name of names) assert.ok(known.has(name), `${panel.title}: ${name} is not a gateway metric`);
      }
    }
  });

  it('the alert rules are YAML whose every expression names metrics the gateway exposes', () => {
    const rules = parse(readFileSync(new URL('prometheus-alerts.yaml', DIR), 'utf8')) as {
      groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);
    assert.ok(all.length > 0);
    for (const rule of all) {
      assert.ok(['warning', 'critical'].includes(rule.labels.severity), `${rule.alert}: severity`);
      const names = namesIn(rule.expr);
      assert.ok(names.length > 0, `${rule.alert} names no metric`);
      for (const name of names) assert.ok(known.has(name), `${rule.alert}: ${name} is not a gateway metric`);
    }
  });
});
