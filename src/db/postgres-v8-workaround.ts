import type postgres from 'postgres'

/*
 * A workaround for V8 11 (Node 20) and postgres.js 3.4.
 *
 * postgres.js's Query (src/query.js, `extends Promise`) and Result (src/result.js,
 * `extends Array`) declare `static get [Symbol.species]()`. V8 leaves a class constructor with a
 * static accessor under a computed key in dictionary mode, and TurboFan, optimizing a function
 * that reaches `new Query` or `new Result` (the constructors themselves, postgres.js's `sql` and
 * its row handling, every caller of the auth lookup), records a stable-map dependency on that
 * constructor's map, which a dictionary map never satisfies. Each optimization is compiled, then
 * aborted ("Bailed out due to dependency change"; "invalid dependency: StableMapDependency"
 * under `node --trace-opt`) and tried again for as long as the process runs, so the query path
 * stays unoptimized and the compiler thread keeps a core busy: about a fifth of the CPU of an
 * authenticated request.
 *
 * Declaring a subclass of a class makes its constructor a prototype, and V8 turns an object that
 * becomes a prototype back to fast properties (JSObject::OptimizeAsPrototype, src/objects/
 * js-objects.cc; V8's test/mjsunit/fast-prototype.js: "Making it a prototype makes it fast
 * again"). The dependency then holds and nothing else changes. No postgres.js or V8 issue
 * tracks this yet; tests/regressions/postgres-classes-fast.test.ts says whether the query path
 * optimizes, so the workaround can go once that test passes without it.
 */

type AnyClass = abstract new (...args: never[]) => object

// postgres.js's classes are shared by every pool in the process: set once they have their subclass
let applied: Promise<void> | undefined

/**
 * Gives postgres.js's Query and Result classes fast properties, once per process. Query is at
 * hand at once (an unsent query); Result comes with the first answer, so that query is sent.
 */
export function makePostgresClassesFast (sql: postgres.Sql): void {
  if (applied) return
  const subclass = (base: AnyClass) => class extends base {}
  const query = sql`select 1`
  subclass(query.constructor as AnyClass)
  applied = query.then(
    (result) => {
      subclass(result.constructor as AnyClass)
    },
    // the database is away: the next pool made tries again
    () => {
      applied = undefined
    }
  )
}
