/** The region segment of an API key: `sk-<region>-<secret>`. */
export const API_KEY_REGION_PATTERN = /^[a-z0-9]{1,16}$/;

/** Every API key, generated or registered: `sk-<region>-<secret>`. */
export const API_KEY_PATTERN = /^sk-[a-z0-9]{1,16}-[A-Za-z0-9_-]{16,128}$/;

/** {@link API_KEY_PATTERN} in words, for error messages. */
export const API_KEY_RULE =
  'sk-<region>-<secret>, where region is 1-16 lowercase letters or digits and secret is 16-128 letters, digits, "_" or "-"';
