/** Per-checkout state lives here: stat cache, node states, run history, the daemon's address. */
export const STATE_DIR = '.kiln';
