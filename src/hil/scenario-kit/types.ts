/**
 * A scenario is one black-box rehearsal of something a device meets in the field. It gets a fresh device,
 * its own site (and, by default, its own cloud), and learns about the device only through the device's CLI
 * output and the mocks' control APIs. The runner owns setup, the time limit, diagnostics and cleanup.
 */
import type { TrustedReleaseKey } from '../../protocol/release.js';
import type { CloudHandle } from '../bed/cloud.js';
import type { SiteHandle } from '../bed/site.js';
import type { Capabilities, DeviceTarget } from '../targets/types.js';

export type Figure = number | string | boolean | null;

export interface ScenarioRequirements {
  /** Device capabilities the scenario cannot do without. */
  capabilities?: Array<keyof Capabilities>;
  /** Needs its own cloud (e.g. a short token lifetime): skipped with `--cloud-url`. */
  ownCloud?: boolean;
  /** Needs its own site server (it stops its listener): skipped with `--site-url`. */
  ownSiteServer?: boolean;
  /** Wants the device in its own network namespace (local targets, root); rig hooks stand in elsewhere. */
  netns?: boolean;
}

export interface ScenarioSetup {
  /** Options for the scenario's own cloud. */
  cloud?: {
    edgeTokenTtlSeconds?: number;
    /** Release keys the cloud accepts uploads from besides the built-in set (a key the device does not trust). */
    releaseKeys?: readonly TrustedReleaseKey[];
  };
}

/** Link impairment between the device and the mocks (only inside a namespace: `tc netem` on the host side). */
export interface LinkShaper {
  impair(options: { delayMs?: number; jitterMs?: number; lossPercent?: number }): Promise<void>;
  clear(): Promise<void>;
}

export interface ScenarioContext {
  readonly device: DeviceTarget;
  readonly cloud: CloudHandle;
  readonly site: SiteHandle;
  /** The edge id this scenario pairs its device as (unique per run). */
  readonly edgeId: string;
  /** Aborted when the scenario's time is up: pass it to long waits. */
  readonly signal: AbortSignal;
  /** Present when the device runs in a namespace the rig made. */
  readonly link: LinkShaper | undefined;
  /** Records a key figure for the reports (time to online, messages, gaps…). */
  figure(name: string, value: Figure): void;
  /** A step, for the report's system-out. */
  note(text: string): void;
  /**
   * Part of the scenario cannot run here (e.g. no netem): it goes on with the rest, and every report says it ran
   * only in part, with this reason, rather than passing as if it had run whole.
   */
  partial(reason: string): void;
  /** Ends the scenario as skipped, with the reason printed in every report. */
  skip(reason: string): never;
  /** Registers cleanup that must run even when the scenario fails (run in reverse order, bounded). */
  defer(cleanup: () => Promise<void> | void): void;
}

export interface Scenario {
  id: string;
  title: string;
  /** The upper bound for the whole scenario, setup excluded. */
  timeoutS: number;
  requires?: ScenarioRequirements;
  setup?: ScenarioSetup;
  run(ctx: ScenarioContext): Promise<void>;
}
