/**
 * Keys shared by the pool, its workspace handles and the coordinator host, and nothing else: they are not exported from
 * the package, so users cannot reach the pool's internals through them.
 *
 * This module is browser compatible.
 * @module
 */

/** The token that lets only the pool construct workspaces. @internal */
export const kCreateWorkspace: unique symbol = Symbol('createWorkspace');
/** The pool's method that installs a `MoveGuard` (the coordinator's shared pins): `(guard) => void`. @internal */
export const kSetMoveGuard: unique symbol = Symbol('setMoveGuard');
