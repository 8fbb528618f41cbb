// The shapes of names a build file gives, shared by kiln.yaml's reader and
// the JS workspace importer (which must not load the YAML library).

/** Also fits npm package names and Turborepo task ids: `@scope/pkg#build` (see npm/import.ts). */
export const NODE_ID = /^@?[A-Za-z0-9][A-Za-z0-9._:/#-]*$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
