// The function's own code is only this re-export: the handler, lib/ and their dependencies live in the
// inference layer (/opt/nodejs), built by layers/build.ts. An absolute import makes Node resolve the
// handler's packages from /opt/nodejs/node_modules, whichever way the runtime treats layered ES modules.
export { handler } from "/opt/nodejs/dist/handlers/s3-upload.js";
