import { describe, expect, it } from "vitest";
import { localTime } from "../src/entities/index.js";

// GitLab's `TimeZoneHelper#local_time`: the user's time now, `h:MM AM`, in their zone; formatted once a minute.
describe("localTime", () => {
  it("is the time of day in the user's zone, and follows the clock from one minute to the next", () => {
    const at = (iso: string) => localTime("America/New_York", new Date(iso));
    expect(at("2026-12-01T17:04:00.000Z")).toBe("12:04 PM");
    expect(at("2026-12-01T17:04:59.999Z")).toBe("12:04 PM");
    expect(at("2026-12-01T17:05:00.000Z")).toBe("12:05 PM");
    // Back in time (another request's clock, a test's fake one): never an answer of another minute.
    expect(at("2026-12-01T04:30:00.000Z")).toBe("11:30 PM");
    expect(localTime("Asia/Kolkata", new Date("2026-12-01T04:30:00.000Z"))).toBe("10:00 AM");
  });

  it("is UTC for a zone name nobody knows, and null without a zone", () => {
    expect(localTime("Mars/Olympus_Mons", new Date("2026-12-01T00:07:00.000Z"))).toBe("12:07 AM");
    expect(localTime(null, new Date())).toBeNull();
  });
});
