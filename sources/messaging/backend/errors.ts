import { GraphQLError } from 'graphql';

/**
 * The `extensions.code` values this backend answers with. Where Twilio has a numbered error for
 * the same mistake, it travels along as `extensions.twilioCode` with Twilio's `moreInfo` link,
 * as Twilio's own API reports it.
 */
export type MessagingErrorCode =
  | 'INVALID_PHONE_NUMBER'
  | 'INVALID_BODY'
  | 'INVALID_ARGUMENT'
  | 'TOO_MANY_IDS'
  | 'INJECTED_FAULT';

export interface MessagingErrorDetails {
  /** Twilio's numeric error code, e.g. 21211. */
  twilioCode?: number;
  /** The argument at fault. */
  argument?: string;
}

export function messagingError(code: MessagingErrorCode, message: string, details: MessagingErrorDetails = {}): GraphQLError {
  const extensions: Record<string, unknown> = { code };
  if (details.argument !== undefined) extensions['argument'] = details.argument;
  if (details.twilioCode !== undefined) {
    extensions['twilioCode'] = details.twilioCode;
    extensions['moreInfo'] = `https://www.twilio.com/docs/errors/${details.twilioCode}`;
  }
  return new GraphQLError(message, { extensions });
}
