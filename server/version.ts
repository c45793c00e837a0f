/** The agent's version, shown in /api/health and the snapshot. Kept in step with package.json. */
export const SERVER_VERSION = '0.1.0';
