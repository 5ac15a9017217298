import Type, { type TSchema } from 'typebox';
import { ErrorBody } from '@clawd402/protocol';

/** A route's replies: its success schemas by status code, then ErrorBody for every 4xx and every 5xx answer. */
export const withErrors = <S extends Record<number, TSchema>>(success: S) => ({
  ...success,
  '4xx': ErrorBody,
  '5xx': ErrorBody,
});

/** `:id` in a path: any text up to 64 characters (a non-UUID then answers `not_found`, like a missing id). */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** A chain id in a path or a query string: a positive integer of up to 16 digits, as text. */
export const ChainIdText = Type.String({ pattern: '^[1-9][0-9]{0,15}$' });

/** A digest or policy-set hash as the API shows it: `sha256:` and 64 lowercase hex digits. */
export const SHA256_PATTERN = '^sha256:[0-9a-f]{64}$';

/**
 * A 200 reply whose shape is not declared yet: serialized exactly like an undeclared one (plain JSON.stringify), and
 * typed `unknown` so the TypeBox type provider accepts the handler's reply. Replace with the real shape when a route
 * gets its response schema (the serializer then drops undeclared fields, so declare every one).
 */
export const AnyJson = Type.Unknown();

/** A reply without a body (204): typed `undefined`, so `reply.status(204).send()` type-checks. Never serialized. */
export const NoContent = Type.Unsafe<undefined>({ description: 'No content' });

/**
 * A string that is one of `values`: a union of their literals, built from the list. TypeBox types a union built from an
 * array as `never`; spell the literals out (`Type.Union([Type.Literal(…), …])`) where the handler's types must follow.
 */
export const Literals = <const T extends string>(values: readonly T[]) =>
  Type.Union(values.map((v) => Type.Literal(v)));

/** A string or null in a response. */
export const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** An optional operator's note on an alert or incident action (at most 500 characters); the body may be empty. */
export const NoteBody = Type.Union([
  Type.Object({ note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
  Type.Null(),
]);

/** A time as the API shows it (ISO 8601), or null. */
export const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/** Who acknowledged and who resolved an alert or incident, and when (null until then). */
export const HandlingFields = {
  acknowledgedAt: Nullable(Type.String()),
  acknowledgedBy: Nullable(Type.String()),
  resolvedAt: Nullable(Type.String()),
  resolvedBy: Nullable(Type.String()),
};

/** An alert's or incident's acknowledgement and resolution times as the API shows them. */
export const handlingTimes = (r: { acknowledgedAt: Date | null; resolvedAt: Date | null }) => ({
  acknowledgedAt: iso(r.acknowledgedAt),
  resolvedAt: iso(r.resolvedAt),
});
