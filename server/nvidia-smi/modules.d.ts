// Types for the two untyped CommonJS packages the nvidia-smi inventory uses (node-nvidia-smi wraps xml2js).
declare module 'node-nvidia-smi' {
  /** Runs `nvidia-smi -q -x` (found on PATH) and parses it with xml2js `{ explicitArray: false, trim: true }`. */
  function nvidiaSmi(callback: (error: unknown, data?: unknown) => void): void;
  export default nvidiaSmi;
}

declare module 'xml2js' {
  export function parseStringPromise(xml: string, options?: { explicitArray?: boolean; trim?: boolean }): Promise<unknown>;
}
