import { describe, expect, it } from "vitest";
import { sameReads } from "../src/context.js";

const finished = {
  id: 62,
  started_at: "2024-01-04T09:00:08.000Z",
  finished_at: "2024-01-04T09:01:12.500Z",
  duration: 64.5,
  user: { id: 1, username: "root", local_time: "11:07 AM" },
};

describe("two reads of the same job", () => {
  it("agree when only the user's local_time moved on (a minute passed between them)", () => {
    expect(sameReads(finished, { ...finished, user: { ...finished.user, local_time: "11:08 AM" } })).toBe(
      true,
    );
  });

  it("still differ when the user's local_time appears or goes, or anything else changed", () => {
    expect(sameReads(finished, { ...finished, user: { ...finished.user, local_time: null } })).toBe(false);
    expect(sameReads(finished, { ...finished, duration: 65 })).toBe(false);
    expect(sameReads(finished, { ...finished, user: { ...finished.user, username: "admin" } })).toBe(false);
  });

  it("agree on a running job's growing duration, not on a finished one's", () => {
    const running = { ...finished, finished_at: null };
    expect(sameReads(running, { ...running, duration: 99 })).toBe(true);
  });
});
