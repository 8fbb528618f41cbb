import type { Rule } from './rule.js';
import { bundleRule } from './bundle.js';
import { gitRule } from './git.js';
import { npmScriptRule } from './npm-script.js';
import { packageRule } from './package.js';
import { patchesRule } from './patches.js';
import { runRule } from './run.js';
import { testRule } from './test.js';

/** All built-in rule kinds by id. Adding a rule kind is one module plus one line here. */
export const rules: ReadonlyMap<string, Rule> = new Map([runRule, gitRule, patchesRule, testRule, packageRule, bundleRule, npmScriptRule].map((r) => [r.id, r]));
