/**
 * Builds the update engine of one runtime: its job store, the trusted keys, and the installers this device has
 * (`runtime`, `model`). `run` attaches it to the session (attach.ts);
 * `update install --file` uses it without one.
 */
import type { EdgeRuntime } from '../runtime.js';
import { DEFAULT_TRIAL_SECONDS, UpdateEngine, type UpdateEngineOptions } from './engine.js';
import { UpdateJobStore } from './job-store.js';
import { ModelInstaller } from './installers/model.js';
import { RuntimeInstaller } from './runtime-installer.js';
import { updatePaths } from './state-files.js';

export type EngineHooks = Pick<UpdateEngineOptions, 'publish' | 'requestRestart' | 'downloadTarget'> &
  Partial<Pick<UpdateEngineOptions, 'space' | 'arch' | 'readTimeoutMs' | 'downloadBackoff'>>;

export function createUpdateEngine(runtime: EdgeRuntime, stateDir: string, hooks: EngineHooks): UpdateEngine {
  const paths = updatePaths(stateDir);
  const settings = () => runtime.state.config.current()?.config.update ?? {};
  return new UpdateEngine({
    paths,
    jobs: new UpdateJobStore(runtime.state.db, () => new Date(runtime.clock.now()).toISOString()),
    keys: runtime.state.releaseKeys,
    installers: {
      runtime: new RuntimeInstaller({
        paths,
        db: runtime.state.db,
        trialSeconds: () => settings().trialSeconds ?? DEFAULT_TRIAL_SECONDS,
      }),
      model: new ModelInstaller(stateDir),
    },
    runningVersion: runtime.version,
    logger: runtime.logger.child({ component: 'update' }),
    settings,
    now: () => new Date(runtime.clock.now()),
    ...hooks,
  });
}
