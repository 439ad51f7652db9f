/**
 * Secrets the proxy holds (S3 keys, …) and a scrubber for any text that may leave the server:
 * error messages (cells, REST, query history) and log lines. Values are registered when a
 * connection is loaded; `scrubSecrets` replaces every registered value, credentials in URLs
 * (`scheme://user:pass@host`) and AWS signature material with `[HIDDEN]`.
 */
const secrets = new Set<string>();

/** Registers a value that must never leave the server. Very short values are ignored (too many false hits). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function unregisterSecret(value: string | undefined): void {
  if (value) secrets.delete(value);
}

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:'"]+:[^\s/@'"]*@/gi;
const AWS_MATERIAL = /\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId|aws_secret_access_key|aws_access_key_id|secret_access_key|access_key_id|session_token)(\s*[=:]\s*)(['"]?)[^\s&'",)]+\3/gi;

export function scrubSecrets(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('[HIDDEN]');
  return out.replace(URL_CREDENTIALS, '$1[HIDDEN]@').replace(AWS_MATERIAL, (_m, name: string, sep: string, q: string) => `${name}${sep}${q}[HIDDEN]${q}`);
}
