/**
 * Stripe-shaped API errors: `{error: {type, code, message, param?}}`. Handlers throw
 * `ApiError`; the server turns it into the response, so every error leaves by one path.
 */
export type ApiErrorType = 'invalid_request_error' | 'idempotency_error' | 'api_error' | 'rate_limit_error';

export interface ApiErrorBody {
  error: { type: ApiErrorType; code: string; message: string; param?: string };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }

  toBody(): ApiErrorBody {
    const error: ApiErrorBody['error'] = { type: this.type, code: this.code, message: this.message };
    if (this.param !== undefined) error.param = this.param;
    return { error };
  }
}

export function parameterInvalid(param: string | undefined, message: string): ApiError {
  return new ApiError(400, 'invalid_request_error', 'parameter_invalid', message, param);
}

export function parameterMissing(param: string): ApiError {
  return new ApiError(400, 'invalid_request_error', 'parameter_missing', `Missing required param: ${param}.`, param);
}

export function parameterUnknown(param: string): ApiError {
  return new ApiError(400, 'invalid_request_error', 'parameter_unknown', `Received unknown parameter: ${param}`, param);
}

/**
 * Stripe's wording for an id that names nothing. A path id is 404 (the URL names nothing);
 * an id inside the parameters is 400 (the request is wrong, the URL is fine).
 */
export function noSuch(kind: string, id: string, param: string, status: 400 | 404): ApiError {
  return new ApiError(status, 'invalid_request_error', 'resource_missing', `No such ${kind}: '${id}'`, param);
}

export function bodyInvalid(message: string): ApiError {
  return new ApiError(400, 'invalid_request_error', 'body_invalid', message);
}
