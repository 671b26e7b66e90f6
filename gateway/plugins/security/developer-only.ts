import { GraphQLError } from 'graphql';
import { errorResponse } from '../../errors.ts';
import { DEVELOPER_SCOPE } from '../limits/limits.ts';
import type { Principal } from '../../../schema/principal.ts';

/**
 * The guard of the gateway's operational pages (`/metrics`, `/status`) in production: a developer's
 * verified credentials (`junction:developer`) are let through, anyone else gets the page's own
 * refusal (403), and credentials that do not verify get theirs (401). Loopback callers are not
 * trusted: behind a proxy on the same host every caller is one.
 *
 * Returns the answer to end the request with, or undefined when the caller may see the page.
 */
export async function refuseUnlessDeveloper(
  principalOf: (request: Request) => Promise<Principal>,
  request: Request,
  fetchAPI: { Response: typeof Response },
  forbidden: () => GraphQLError,
): Promise<Response | undefined> {
  let principal: Principal;
  try {
    principal = await principalOf(request);
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err;
    return errorResponse(fetchAPI, err, 401);
  }
  return principal.scopes.has(DEVELOPER_SCOPE) ? undefined : errorResponse(fetchAPI, forbidden(), 403);
}
