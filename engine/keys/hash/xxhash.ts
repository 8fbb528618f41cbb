import xxhashInit from 'xxhash-wasm';

type XXHashApi = Awaited<ReturnType<typeof xxhashInit>>;
let api: XXHashApi | undefined;

/** Instantiates the wasm module once; every digest function below needs it. */
export async function initXxhash(): Promise<void> {
  api ??= await xxhashInit();
}

function hasher(): XXHashApi {
  if (!api) throw new Error('initXxhash() was not awaited before hashing');
  return api;
}

/** 16-hex-digit xxh64 of bytes: the digest of an input file. */
export function xxh64Hex(data: Uint8Array): string {
  return hasher().h64Raw(data).toString(16).padStart(16, '0');
}

/** Streaming variant for large files, fed chunk by chunk. */
export function xxh64Stream(): { update(chunk: Uint8Array): void; digest(): string } {
  const h = hasher().create64();
  return {
    update: (chunk) => void h.update(chunk),
    digest: () => h.digest().toString(16).padStart(16, '0'),
  };
}
