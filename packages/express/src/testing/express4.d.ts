// express@4 installed under an alias for the Express 4 run of the conformance suite; typed as Express 5's module.
declare module 'express4' {
  import express from 'express';
  export default express;
}
