import type { BaseLogger } from 'pino';

/**
 * The logger every layer below HTTP takes: pino's level methods. Fastify's request and app loggers satisfy it, and so
 * does a plain pino logger, so nothing below routes needs to import fastify for a type.
 */
export type Logger = Pick<BaseLogger, 'level' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>;
