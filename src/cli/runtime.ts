import { isSea } from 'node:sea';

/** How this process runs airlock: as the single executable, or as the node CLI. */
export interface RuntimeInfo {
  /** True inside the single executable (`npm run release`). */
  readonly singleExecutable: boolean;
  /** The executable file: the single executable itself, or the node binary running the CLI. */
  readonly executable: string;
  /** The node CLI's entry script (bin/airlock.js); absent in the single executable. */
  readonly script?: string;
  /** `<os>-<arch>` as Node names them: `linux-x64`, `linux-arm64`, `darwin-arm64`. */
  readonly platform: string;
  readonly node: string;
}

export function runtimeInfo(): RuntimeInfo {
  const sea = isSea();
  return {
    singleExecutable: sea,
    executable: process.execPath,
    ...(!sea && process.argv[1] ? { script: process.argv[1] } : {}),
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
  };
}
