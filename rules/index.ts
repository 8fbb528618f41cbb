import type { Rule } from './rule.js';
import { runRule } from './run.js';

/** All built-in rule kinds by id. Adding a rule kind is one module plus one line here. */
export const rules: ReadonlyMap<string, Rule> = new Map([runRule].map((r) => [r.id, r]));
