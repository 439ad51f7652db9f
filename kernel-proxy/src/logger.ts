import pino, { type DestinationStream, type Logger } from 'pino';

/** Strips credentials from URLs before they reach a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|_xsrf|password)=)[^&#]*/gi, '$1[redacted]');
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-xsrftoken"]', 'password', '*.password', 'token', '*.token'],
      censor: '[redacted]',
    },
    serializers: {
      req(request: { method?: string; url?: string; ip?: string }) {
        return { method: request.method, url: request.url ? redactUrl(request.url) : undefined, remoteAddress: request.ip };
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
