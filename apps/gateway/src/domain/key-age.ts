/**
 * Key ages (docs/jobs.md, "Key-age reminders"): a key in force is due for rotation at `dueDays`, overdue at
 * `overdueDays` and critically overdue at `criticalDays` (KEY_AGE_*_DAYS; 80, 90 and 100 by default).
 */
export interface KeyAgeSettings {
  dueDays: number;
  overdueDays: number;
  criticalDays: number;
}

export type KeyAgeLevel = 'ok' | 'due' | 'overdue' | 'critical';

export const DEFAULT_KEY_AGE_SETTINGS: KeyAgeSettings = { dueDays: 80, overdueDays: 90, criticalDays: 100 };

export function keyAgeLevel(ageDays: number, settings: KeyAgeSettings): KeyAgeLevel {
  if (ageDays >= settings.criticalDays) return 'critical';
  if (ageDays >= settings.overdueDays) return 'overdue';
  if (ageDays >= settings.dueDays) return 'due';
  return 'ok';
}
