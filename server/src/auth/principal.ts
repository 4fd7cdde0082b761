/**
 * Who a request acts as, once authenticated.
 *
 * - `identity`: credentials or a bearer token the server issued to one Cognito identity; it reaches
 *   only that identity's data in that pool.
 * - `developer`: a configured admin key; it reaches every identity and the pool-level operations.
 */
export type Principal =
  | { readonly kind: 'identity'; readonly identityPoolId: string; readonly identityId: string }
  | { readonly kind: 'developer'; readonly accessKeyId: string }
