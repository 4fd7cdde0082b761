/** A test page's settings, from its query string: `?pool=&identity=&token=` and any others it names. */
export function pageSetting(name: string): string {
  const value = new URLSearchParams(location.search).get(name)
  if (value === null) throw new Error(`missing ?${name}=`)
  return value
}

/** The identity the test signed in for the page, and its bearer token. */
export function pageIdentity(): { identityPoolId: string; identityId: string; token: string } {
  return {
    identityPoolId: pageSetting('pool'),
    identityId: pageSetting('identity'),
    token: pageSetting('token'),
  }
}
