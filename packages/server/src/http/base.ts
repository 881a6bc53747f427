/** Where the API is mounted, as on GitLab. */
export const API_BASE = "/api/v4";
