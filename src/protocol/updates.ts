/**
 * Over-the-air updates (issue 13): the campaign a site admin approves in the cloud, what the site server tells
 * each targeted edge on `P/update`, and what the edge reports back on `P/update/state`. The release manifest
 * itself (what is signed, by which keys) is in `release.ts`.
 *
 * Flow: platform admin uploads a bundle → site admin approves a campaign for a site (all edges or a list) → the
 * site server learns of it with its site token, fetches the bundle once, verifies it, serves the artifact to the
 * targeted edges → each edge downloads, verifies, installs, restarts, holds a trial, and reports every step.
 */
import { z } from 'zod';
import { EdgeId, IsoDateTime, Uuid, Version } from './common.js';

/**
 * The `update` key of `P/config`: `maxDownloadKbps` paces artifact downloads (kilobits per second) so telemetry is
 * never starved on a thin link; `trialSeconds` is how long a new version must hold online (in all) before it commits;
 * `downloadRetryHours` is how long a download keeps retrying a site server it cannot reach (default 24).
 */
export const UpdateConfig = z.strictObject({
  maxDownloadKbps: z.number().int().min(8).max(10_000_000),
  trialSeconds: z.number().int().min(10).max(3600),
  downloadRetryHours: z.number().int().min(1).max(720),
});
export type UpdateConfig = z.infer<typeof UpdateConfig>;

/** The job a device runs for one offer; `P/update/state` carries it, retained, at every transition. */
export const UpdateJobStates = [
  'offered',
  'downloading',
  'downloaded',
  'verified',
  'installing',
  'restarting',
  'trial',
  'succeeded',
  'failed',
  'rolled-back',
  'cancelled',
] as const;
export const UpdateJobState = z.enum(UpdateJobStates);
export type UpdateJobState = z.infer<typeof UpdateJobState>;
/** States a job never leaves. */
export const FINAL_UPDATE_STATES: readonly UpdateJobState[] = ['succeeded', 'failed', 'rolled-back', 'cancelled'];

/**
 * Why a job failed or was rolled back. Clients switch on `code`; the list may grow, so parse leniently (any
 * `ERROR_CODE_PATTERN` string) and explain the known ones.
 */
export const UpdateFailureCodes = [
  'BAD_SIGNATURE', // the manifest's signature does not verify, or is by a key the device does not trust
  'BAD_MANIFEST', // signed, but not a manifest this device can use
  'WRONG_ARCH',
  'DOWNGRADE', // older than (or the same as) the running version, and the campaign does not allow it
  'INSUFFICIENT_SPACE', // checked before anything is written; nothing is left behind
  'DOWNLOAD_FAILED', // refused (401/403/404/410), or still failing after update.downloadRetryHours; partial file kept
  'DOWNLOAD_RETRYING', // on `downloading`, not final: a transient failure; the message says when the next attempt is
  'HASH_MISMATCH', // size or sha256 of the artifact differ from the manifest: the partial file is deleted
  'INSTALL_FAILED',
  'START_FAILED', // the new version did not start (3 starts), rolled back by the launcher
  'TRIAL_TIMEOUT', // the new version ran but never came online and committed within the trial window
  'MISSING_BINARY', // the release on trial had no runnable binary at start, rolled back by the launcher
  'INVALID_TRIAL', // update/trial could not be read (damaged or planted), rolled back to releases/previous
  'CANCELLED',
  'SUPERSEDED', // another offer replaced this one before it was installed
] as const;
export const UpdateFailure = z.object({
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  message: z.string().max(1024),
});
export type UpdateFailure = z.infer<typeof UpdateFailure>;

export const UpdateProgress = z.object({
  bytes: z.number().int().min(0),
  total: z.number().int().min(0),
});

/**
 * `P/update` (site → edge, retained, QoS 1). An offer, or the cancellation of one. `manifest` is the release's
 * compact JWS, verified by the edge with the release keys it trusts; `url` is where the artifact is served
 * (the site server's edge-facing listener, with `Range`), authenticated by the edge token. `releaseKeys`, when
 * present, is a key-rotation document (`release.ts`), applied before the manifest is verified. The site server
 * clears the retained message (empty payload) once the edge reports a final state.
 */
export const UpdateOffer = z.object({
  campaignId: Uuid,
  manifest: z.string().min(1).max(16_384),
  url: z.url({ protocol: /^https?$/ }).max(2048),
  allowDowngrade: z.boolean().default(false),
  releaseKeys: z.string().min(1).max(65_536).optional(),
  ts: IsoDateTime,
});
export type UpdateOffer = z.infer<typeof UpdateOffer>;
export const UpdateCancel = z.object({ campaignId: Uuid, cancelled: z.literal(true), ts: IsoDateTime });
export type UpdateCancel = z.infer<typeof UpdateCancel>;
export const UpdateMessage = z.union([UpdateCancel, UpdateOffer]);
export type UpdateMessage = z.infer<typeof UpdateMessage>;

/**
 * `P/update/state` (edge → site, retained, QoS 1): the device's current or last job. `campaignId` is null for an
 * offline install (`update install --file`). `runningVersion` is the version of the binary that sent it.
 */
export const UpdateStateReport = z.object({
  campaignId: Uuid.nullable(),
  kind: z.enum(['runtime', 'model']),
  name: z.string().min(1).max(64),
  version: Version,
  state: UpdateJobState,
  progress: UpdateProgress.optional(),
  reason: UpdateFailure.optional(),
  runningVersion: Version,
  at: IsoDateTime,
});
export type UpdateStateReport = z.infer<typeof UpdateStateReport>;

// ---------------------------------------------------------------------------------------------------------------
// Cloud API (routes in routes.ts)

/** Uploaded bundles are bounded; the artifact inside is what the manifest's `size` counts. */
export const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

export const ReleaseView = z.object({
  id: Uuid,
  kind: z.enum(['runtime', 'model']),
  name: z.string(),
  version: Version,
  arch: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  createdAt: IsoDateTime,
  uploadedAt: IsoDateTime,
  notes: z.string().optional(),
  /** The `kid` of the release key that signed it. */
  kid: z.string(),
});
export type ReleaseView = z.infer<typeof ReleaseView>;
export const ReleaseListResponse = z.object({ releases: z.array(ReleaseView) });

export const CreateCampaignRequest = z.strictObject({
  releaseId: Uuid,
  /** The edges to update; absent means every edge of the site, including ones that pair later. */
  edges: z.array(EdgeId).min(1).max(1000).optional(),
  allowDowngrade: z.boolean().optional(),
});
export type CreateCampaignRequest = z.infer<typeof CreateCampaignRequest>;

export const CampaignEdgeProgress = z.object({
  edgeId: EdgeId,
  /** `pending`: not reported yet (the site server has not offered it, or the edge has not answered). */
  state: z.union([UpdateJobState, z.literal('pending')]),
  progress: UpdateProgress.optional(),
  reason: UpdateFailure.optional(),
  runningVersion: Version.optional(),
  updatedAt: IsoDateTime.optional(),
});
export type CampaignEdgeProgress = z.infer<typeof CampaignEdgeProgress>;

export const CampaignView = z.object({
  id: Uuid,
  siteId: Uuid,
  release: ReleaseView,
  edges: z.array(EdgeId).nullable(),
  allowDowngrade: z.boolean(),
  state: z.enum(['active', 'cancelled']),
  createdAt: IsoDateTime,
  cancelledAt: IsoDateTime.optional(),
  progress: z.array(CampaignEdgeProgress),
});
export type CampaignView = z.infer<typeof CampaignView>;
export const CampaignListResponse = z.object({ campaigns: z.array(CampaignView) });

/** What the site server reads with its site token: the campaigns of its site, with the signed manifests. */
export const SiteCampaign = z.object({
  id: Uuid,
  releaseId: Uuid,
  manifest: z.string().min(1).max(16_384),
  releaseKeys: z.string().optional(),
  edges: z.array(EdgeId).nullable(),
  allowDowngrade: z.boolean(),
  state: z.enum(['active', 'cancelled']),
});
export type SiteCampaign = z.infer<typeof SiteCampaign>;
export const SiteCampaignListResponse = z.object({ campaigns: z.array(SiteCampaign) });

export const CampaignProgressReport = z.strictObject({
  edges: z
    .array(
      z.strictObject({
        edgeId: EdgeId,
        state: UpdateJobState,
        progress: UpdateProgress.optional(),
        reason: UpdateFailure.optional(),
        runningVersion: Version.optional(),
        at: IsoDateTime,
      }),
    )
    .min(1)
    .max(1000),
});
export type CampaignProgressReport = z.infer<typeof CampaignProgressReport>;

/**
 * The answer to a progress report: how many edge states were recorded, and how many were ignored because the
 * cloud holds a newer one for that edge, or the edge is not targeted by the campaign (never an error, so one
 * stray edge cannot block the site server's reports for the others).
 */
export const CampaignProgressResult = z.object({
  recorded: z.number().int().min(0),
  ignored: z.number().int().min(0),
});
export type CampaignProgressResult = z.infer<typeof CampaignProgressResult>;
