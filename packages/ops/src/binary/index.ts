// The binary ops (and the three-way `where`): one file per op, forward and VJP side by side. Each
// shape rule is the kernel's own (`binaryOutput`, `whereOutput` of @backfold/tensor), so staging and
// eager mode agree on broadcasting, dtype promotion and errors.
import { add, addOp } from './add'
import { sub, subOp } from './sub'
import { mul, mulOp } from './mul'
import { div, divOp } from './div'
import { pow, powOp } from './pow'
import { maximum, maximumOp } from './maximum'
import { atan2, atan2Op } from './atan2'
import { minimum, minimumOp } from './minimum'
import { equal, equalOp } from './equal'
import { notEqual, notEqualOp } from './notEqual'
import { less, lessOp } from './less'
import { lessEqual, lessEqualOp } from './lessEqual'
import { greater, greaterOp } from './greater'
import { greaterEqual, greaterEqualOp } from './greaterEqual'
import { where, whereOp } from './where'

export {
  add,
  addOp,
  sub,
  subOp,
  mul,
  mulOp,
  div,
  divOp,
  pow,
  powOp,
  maximum,
  maximumOp,
  atan2,
  atan2Op,
  minimum,
  minimumOp,
  equal,
  equalOp,
  notEqual,
  notEqualOp,
  less,
  lessOp,
  lessEqual,
  lessEqualOp,
  greater,
  greaterOp,
  greaterEqual,
  greaterEqualOp,
  where,
  whereOp,
}

/** Every binary op by name (the keys equal each op's `name`), each also listed in the registry. @since 0.1.0 */
export const binaryOps = {
  add: addOp,
  sub: subOp,
  mul: mulOp,
  div: divOp,
  pow: powOp,
  maximum: maximumOp,
  atan2: atan2Op,
  minimum: minimumOp,
  equal: equalOp,
  notEqual: notEqualOp,
  less: lessOp,
  lessEqual: lessEqualOp,
  greater: greaterOp,
  greaterEqual: greaterEqualOp,
  where: whereOp,
} as const
