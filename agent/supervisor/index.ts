/** Public surface of the supervisor folder (agent/supervisor/). */
export { Supervisor, DefaultSupervisorOptions, type SupervisorOptions, type PowerOptions, type StopOptions, type RestartOptions } from './supervisor.ts';
export { SupervisorEvents, type SupervisorEventsMap, type SupervisorAlertKind, type StateEvent, type AlertEvent, type HealthEvent } from './events.ts';
export { ProcessLauncher, DefaultProcessLauncherOptions, launcherPaths, type Launcher, type ProcessHandle, type ExitInfo, type ProcessLauncherOptions } from './launcher.ts';
export { RestartPolicy, DefaultRestartPolicyOptions, type RestartDecision, type RestartPolicyOptions } from './restart-policy.ts';
export { ServerStateMachine, IllegalTransitionError, canTransition, stateTransitions, type StateChange, type Intent, type ExitMeaning } from './state.ts';
export { Recovery, type RecoveryHost, type RecoveryOptions, type FailureCause } from './recovery.ts';
export { IntentFile, OperatorWord, type IntentStore, type OperatorIntent } from './intent.ts';
export { PowerLock, type PowerAction } from './power-lock.ts';
export type { StopOutcome } from './stop-sequence.ts';
export { DefaultLogRotation, type LogRotation } from './process-log.ts';
