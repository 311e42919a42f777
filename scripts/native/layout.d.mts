export declare const TF_VERSION: string;
export interface PinnedWheel {
  project: string;
  filename: string;
  sha256: string;
  pythonVersion: string;
  abi: string;
  platform: string;
  libs: string[];
}
export declare const WHEELS: Record<string, PinnedWheel>;
export declare const HEADER_DIRS: string[];
export declare const projectRoot: string;
export declare function platformKey(): string;
export declare function cacheRoot(): string;
export declare function libCacheDir(): string;
export declare function bindingCacheDir(tfjsNodeVersion: string, napiVersion: number): string;
export interface TfjsNodePackage {
  dir: string;
  pkg: { name: string; version: string; binary: { module_name: string; module_path: string; napi_versions?: number[] } };
}
export declare function findTfjsNode(pkgName?: string): TfjsNodePackage | undefined;
export declare function napiBuildVersion(pkg: TfjsNodePackage['pkg']): number;
export declare function bindingPath(tfjs: TfjsNodePackage): string;
export declare const GRAPH_ADDON_DIR: string;
export declare function graphAddonSourceHash(): string;
export declare function graphAddonPath(napiVersion?: number, root?: string): string;
export declare const INSTALL_RECORD: string;
export declare function recordInstallCacheRoot(): void;
export declare function findGraphAddon(): string;
