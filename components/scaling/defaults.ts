/**
 * campus.scaling's defaults, owned here: the schema fills them in when the block is given, and `ops scale`
 * uses them when it is not (it runs on any stack). Kept apart from the schema so `ops` loads no zod to start.
 */
export const SCALING_DEFAULTS = { marginUnderFailure: true, scaleDownAfterMinutes: 30 } as const;
