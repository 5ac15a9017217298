import type { FastifyPluginAsync } from 'fastify';
import { Clawd402Error, logEvent } from '@clawd402/protocol';
import { isAllowedAdminIp } from '../../security/ip-allowlist.ts';
import adminAgents from './agents.ts';
import adminNotifications from './notifications.ts';
import adminApprovals from './approvals.ts';
import adminCosts from './costs.ts';
import adminIntents from './intents.ts';
import adminKillSwitch from './killswitch.ts';
import adminRegistry from './registry.ts';
import adminPolicies from './policies.ts';
import adminUsers from './users.ts';
import adminAlerts from './alerts.ts';
import adminAudit from './audit.ts';
import adminChains from './chains.ts';
import adminIpBlocks from './ip-blocks.ts';
import adminJobs from './jobs.ts';
import adminSecurity from './security.ts';
import adminPersonalData from './personal-data.ts';
import adminIncidents from './incidents.ts';

/**
 * /admin/*: reachable only from ADMIN_ALLOWED_IPS (the client address as the trusted-proxy rules resolve it) — checked
 * before anything else, so a non-listed address learns nothing, not even whether its token is valid — and then only
 * with each route's permission. Every change is audited with the acting user.
 */
const admin: FastifyPluginAsync = async (app) => {
  const { config } = app.services;
  app.addHook('onRequest', async (request) => {
    if (!isAllowedAdminIp(request.ip, config.adminAllowedIps)) {
      logEvent(request.log, 'auth.admin_address_refused', { ip: request.ip, route: request.routeOptions.url });
      throw new Clawd402Error('forbidden', 'Admin routes are not reachable from this address.');
    }
  });
  app.addHook('onRequest', app.authenticate);
  await app.register(adminUsers);
  await app.register(adminAgents);
  await app.register(adminNotifications);
  await app.register(adminCosts);
  await app.register(adminApprovals);
  await app.register(adminRegistry);
  await app.register(adminPolicies);
  await app.register(adminIntents);
  await app.register(adminKillSwitch);
  await app.register(adminAlerts);
  await app.register(adminAudit);
  await app.register(adminIpBlocks);
  await app.register(adminChains);
  await app.register(adminJobs);
  await app.register(adminSecurity);
  await app.register(adminPersonalData);
  await app.register(adminIncidents);
};
export default admin;
