import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { BudgetView } from '@clawd402/protocol';
import { withErrors } from '../schemas.ts';

const BudgetList = Type.Object({ budgets: Type.Array(BudgetView) }, { additionalProperties: false });

/**
 * GET /v1/budget: what is left of each spend limit the agent's intents count against (its agent, API key and global
 * scopes; 24 h and 1 h windows that carry a limit), as committed now. The same `budgets` list a decision carries in
 * `decision.money.budgets`, computed by the same code (docs/money.md). Read scope (`intents:read`).
 */
const budget: FastifyPluginAsyncTypebox = async (app) => {
  const { costs } = app.services;
  app.addHook('onRequest', app.authenticate);
  app.get(
    '/v1/budget',
    {
      schema: { response: withErrors({ 200: BudgetList }) },
    },
    async (request) => ({ budgets: await costs.budgetsOf(request.agent!) }),
  );
};
export default budget;
