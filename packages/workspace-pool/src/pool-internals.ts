/**
 * A key shared by the pool and the coordinator host, and nothing else: it is not exported from the
 * package, so users cannot reach the pool's internals through it.
 *
 * This module is browser compatible.
 * @module
 */

/** The pool's method that installs a `MoveGuard` (the coordinator's shared pins): `(guard) => void`. @internal */
export const kSetMoveGuard: unique symbol = Symbol('setMoveGuard');
