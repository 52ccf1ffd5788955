/** The SfauthError a call throws; anything else thrown (or nothing) fails the test. */
import { isSfauthError, type SfauthError } from '../../src/errors.js';

export function sfauthErrorOf(fn: () => unknown): SfauthError {
  try {
    fn();
  } catch (err) {
    if (isSfauthError(err)) return err;
    throw err;
  }
  throw new Error('expected an SfauthError, nothing was thrown');
}

/** The SfauthError a promise rejects with. */
export async function sfauthRejectionOf(promise: Promise<unknown>): Promise<SfauthError> {
  try {
    await promise;
  } catch (err) {
    if (isSfauthError(err)) return err;
    throw err;
  }
  throw new Error('expected an SfauthError, the promise resolved');
}
