/**
 * Bounds on the work one decode may do. Hostile calldata can nest batch wrappers (a multicall inside a multicall
 * inside a Safe …) or pack thousands of inner calls; past these bounds the decoder stops, sets `flags.truncated`, and
 * callers must treat the whole result as unknown.
 */

/** Deepest call-tree level that is decoded; the root is level 0. A call below it becomes a `truncated` node. */
export const MAX_CALL_DEPTH = 8;

/** Most call-tree nodes one decode creates, the root included. Further inner calls are dropped and flagged. */
export const MAX_CALL_NODES = 256;

/** Deepest struct/array nesting accepted in an EIP-712 message. */
export const MAX_TYPED_DATA_DEPTH = 16;

/** Most leaf and struct values accepted in one EIP-712 message (arrays included). */
export const MAX_TYPED_DATA_VALUES = 10_000;

/** Most struct types accepted in one EIP-712 `types` object, and most fields in one struct. */
export const MAX_TYPED_DATA_TYPES = 128;
export const MAX_TYPED_DATA_FIELDS = 128;
