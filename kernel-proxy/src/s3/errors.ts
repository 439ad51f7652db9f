import { scrubSecrets } from '../util/secrets.js';

/**
 * An S3 problem a user can act on: a status for REST (400 bad input, 403 keys refused, 404 no such
 * bucket / key, 502 endpoint unreachable) and a message that never holds a key.
 */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(scrubSecrets(message));
    this.name = 'S3Error';
  }
}
