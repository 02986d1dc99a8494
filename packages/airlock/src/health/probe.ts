/** The outcome of one probe attempt; `detail` says what was seen, for failure reports. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** One probe attempt against a generation. Never throws; a failure is a result. */
export type Probe = () => Promise<ProbeResult>;

export const pass = (detail: string): ProbeResult => ({ ok: true, detail });
export const fail = (detail: string): ProbeResult => ({ ok: false, detail });
