/**
 * Keys shared by the pool, its workspace handles and the coordinator host, and nothing else: they are not exported from
 * the package, so users cannot reach the pool's internals through them.
 *
 * This module is browser compatible.
 * @module
 */

/** The pool's method that returns a workspace's block: `(block, generation) => void`. @internal */
export const kReleaseBlock: unique symbol = Symbol('releaseBlock');
/** The token that lets only the pool construct workspaces. @internal */
export const kCreateWorkspace: unique symbol = Symbol('createWorkspace');
/** The pool's method that installs a `MoveGuard` (the coordinator's shared pins): `(guard) => void`. @internal */
export const kSetMoveGuard: unique symbol = Symbol('setMoveGuard');
