/**
 * What the LMDB store read back is not what it writes: a damaged or foreign database, or one
 * written by a newer snaphost. A FailedPreconditionError (the store cannot be used as it is),
 * with the database directory and the offending key in the message.
 */
import { FailedPreconditionError } from '../../contract/errors.js';

export class CorruptMetadataError extends FailedPreconditionError {
  constructor(
    readonly dir: string,
    detail: string,
  ) {
    super(`snapshot metadata store ${dir}: ${detail}`);
  }
}
