/**
 * The Standard Schema interface (https://standardschema.dev), version 1: what zod, valibot, arktype
 * and others implement, so a dataset can check its values with any of them without pushsync
 * depending on one. Spelled out here, as the specification recommends, rather than imported.
 */
export interface StandardSchemaV1<TInput = unknown, TOutput = TInput> {
  readonly '~standard': StandardSchemaProps<TInput, TOutput>
}

/** The `~standard` member of a schema: its version, vendor, `validate` and the types it carries. */
export interface StandardSchemaProps<TInput = unknown, TOutput = TInput> {
  readonly version: 1
  readonly vendor: string
  readonly validate: (value: unknown) => StandardResult<TOutput> | Promise<StandardResult<TOutput>>
  readonly types?: { readonly input: TInput; readonly output: TOutput } | undefined
}

/** What `validate` returns: the value it accepted (perhaps transformed), or the issues. */
export type StandardResult<TOutput> =
  | { readonly value: TOutput; readonly issues?: undefined }
  | StandardFailure

/** What `validate` returns for a value the schema refuses. */
export interface StandardFailure {
  readonly issues: ReadonlyArray<StandardIssue>
}

/** One reason a schema refused a value: a message, and where in the value when the schema says. */
export interface StandardIssue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
}

/** The type a schema accepts. */
export type InferInput<TSchema extends StandardSchemaV1> = NonNullable<TSchema['~standard']['types']>['input']
/** The type a schema gives back. */
export type InferOutput<TSchema extends StandardSchemaV1> = NonNullable<
  TSchema['~standard']['types']
>['output']

/** Whether `value` implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.['~standard']
  return (
    typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function'
  )
}
