// @koa/multer ships no types (its DefinitelyTyped package widens Koa's context for every test): the part the tests use.
declare module '@koa/multer' {
  import type { Middleware } from 'koa';
  export default function multer(): { single(field: string): Middleware };
}
