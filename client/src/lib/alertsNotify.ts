/**
 * Browser notifications for alerts, when the user allowed them: one per firing or escalation (tagged with
 * the alert id so a repeat replaces rather than stacks), none for resolutions or re-notifications, which
 * the panel shows. Permission is asked only from a click, as browsers require.
 */
import type { AlertEvent } from '../../../shared/alerts.ts';
import { notificationFor } from './alertsFormat.ts';

export type NotifyPermission = 'granted' | 'denied' | 'default' | 'unsupported';

export function notifyPermission(): NotifyPermission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

export async function requestNotifyPermission(): Promise<NotifyPermission> {
  if (typeof Notification === 'undefined') return 'unsupported';
  return Notification.requestPermission();
}

/** Show the notification for an event when permitted; returns whether one was shown. */
export function notify(e: AlertEvent): boolean {
  const content = notificationFor(e);
  if (!content || notifyPermission() !== 'granted') return false;
  try {
    new Notification(content.title, { body: content.body, tag: content.tag });
    return true;
  } catch {
    return false; // some browsers only allow notifications from a service worker
  }
}
