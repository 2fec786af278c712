// Secrets that must never reach a log line, wherever a serializer might put them.
export const LOG_REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.secret',
]
