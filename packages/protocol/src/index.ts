export * from './errors.ts';
export * from './values.ts';
export * from './intent.schema.ts';
export * from './transaction.ts';
export * from './ticket.ts';
export * from './frames.ts';
