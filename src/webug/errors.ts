// Errors webug maps to HTTP statuses at the server edge.

/** A query parameter or path is malformed: 400 with the message shown. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** The thing asked for does not exist: 404. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** startWebug was given options it cannot run with (e.g. a public address without a token). */
export class WebugConfigError extends Error {
  override name = 'WebugConfigError';
}

/** The database has no BMDB schema yet: 503 until someone runs the migrations. */
export class SchemaMissingError extends Error {
  override name = 'SchemaMissingError';
}
