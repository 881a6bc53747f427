import { describe, expect, it } from "vitest";
import { createJobsClient, JobsApiError, parseLinkHeader } from "../src/index.js";
import { fakeFetch, json, type Sent } from "./fake-fetch.js";

const baseUrl = "https://gitlab.example.com/api/v4";
const jobs = (...ids: number[]) => ids.map((id) => ({ id, status: "failed" }));

/** GitLab's offset pagination over `total` jobs, `per_page` from the request, headers as GitLab sends them. */
function offsetServer(total: number, withCounts: boolean) {
  return (sent: Sent) => {
    const url = new URL(sent.url);
    const page = Number(url.searchParams.get("page") ?? 1);
    const perPage = Number(url.searchParams.get("per_page") ?? 20);
    const pages = Math.max(1, Math.ceil(total / perPage));
    const ids = Array.from({ length: total }, (_, i) => total - i).slice(
      (page - 1) * perPage,
      page * perPage,
    );
    const at = (n: number) => {
      const u = new URL(url);
      u.searchParams.set("page", String(n));
      return u.href;
    };
    const links = [`<${at(1)}>; rel="first"`];
    if (page < pages) links.unshift(`<${at(page + 1)}>; rel="next"`);
    if (page > 1) links.unshift(`<${at(page - 1)}>; rel="prev"`);
    if (withCounts) links.push(`<${at(pages)}>; rel="last"`);
    const headers: Record<string, string> = {
      "X-Page": String(page),
      "X-Per-Page": String(perPage),
      "X-Next-Page": page < pages ? String(page + 1) : "",
      "X-Prev-Page": page > 1 ? String(page - 1) : "",
      Link: links.join(", "),
    };
    if (withCounts) Object.assign(headers, { "X-Total": String(total), "X-Total-Pages": String(pages) });
    return json(jobs(...ids), { headers });
  };
}

describe("pagination", () => {
  it("walks every page of an offset list through rel=next, keeping the filters", async () => {
    const { fetch, sent } = fakeFetch(offsetServer(5, true));
    const client = createJobsClient({ baseUrl, token: "t", fetch });
    const ids: number[] = [];
    for await (const job of client.paginate("listPipelineJobs", {
      id: "g/p",
      pipeline_id: 6,
      scope: ["failed", "canceled"],
      per_page: 2,
    })) {
      ids.push(job.id);
    }
    expect(ids).toEqual([5, 4, 3, 2, 1]);
    expect(sent.map((s) => s.url)).toEqual([
      `${baseUrl}/projects/g%2Fp/pipelines/6/jobs?scope[]=failed&scope[]=canceled&per_page=2`,
      `${baseUrl}/projects/g%2Fp/pipelines/6/jobs?scope%5B%5D=failed&scope%5B%5D=canceled&per_page=2&page=2`,
      `${baseUrl}/projects/g%2Fp/pipelines/6/jobs?scope%5B%5D=failed&scope%5B%5D=canceled&per_page=2&page=3`,
    ]);
    // Follow-up requests carry the same credentials as the first.
    expect(sent.every((s) => s.headers["private-token"] === "t")).toBe(true);
  });

  it("exposes each page's metadata, with counts only when sent", async () => {
    const withCounts = createJobsClient({ baseUrl, fetch: fakeFetch(offsetServer(5, true)).fetch });
    const pages = [];
    for await (const page of withCounts.pages("listPipelineBridges", {
      id: 1,
      pipeline_id: 6,
      per_page: 2,
    })) {
      pages.push(page.pagination);
    }
    expect(pages.map((p) => [p.page, p.perPage, p.prevPage, p.nextPage, p.total, p.totalPages])).toEqual([
      [1, 2, null, 2, 5, 3],
      [2, 2, 1, 3, 5, 3],
      [3, 2, 2, null, 5, 3],
    ]);
    expect(pages[0]?.links).toEqual({
      next: `${baseUrl}/projects/1/pipelines/6/bridges?per_page=2&page=2`,
      first: `${baseUrl}/projects/1/pipelines/6/bridges?per_page=2&page=1`,
      last: `${baseUrl}/projects/1/pipelines/6/bridges?per_page=2&page=3`,
    });

    const withoutCounts = createJobsClient({ baseUrl, fetch: fakeFetch(offsetServer(5, false)).fetch });
    const first = await withoutCounts.page("listProjectJobs", { id: 1, per_page: 2 });
    expect(first.items.map((j) => j.id)).toEqual([5, 4]);
    expect(first.pagination).toMatchObject({ page: 1, nextPage: 2, total: null, totalPages: null });
    expect(first.pagination.links.last).toBeUndefined();
  });

  it("follows keyset pagination, which only has an opaque cursor in Link", async () => {
    const cursors = ["eyJpZCI6IjMifQ%3D%3D", "eyJpZCI6IjEifQ%3D%3D"];
    const { fetch, sent } = fakeFetch((s) => {
      const cursor = new URL(s.url).searchParams.get("cursor");
      const index = cursor === null ? 0 : cursors.map(decodeURIComponent).indexOf(cursor) + 1;
      const next = cursors[index];
      const link =
        next &&
        `<${baseUrl}/projects/1/jobs?order_by=id&pagination=keyset&per_page=2&sort=desc&cursor=${next}>; rel="next"`;
      return json(jobs(6 - 2 * index, 5 - 2 * index), { headers: link ? { Link: link } : {} });
    });
    const client = createJobsClient({ baseUrl, jobToken: "ci", fetch });
    const ids: number[] = [];
    for await (const job of client.paginate("listProjectJobs", {
      id: 1,
      pagination: "keyset",
      order_by: "id",
      sort: "desc",
      per_page: 2,
    })) {
      ids.push(job.id);
    }
    expect(ids).toEqual([6, 5, 4, 3, 2, 1]);
    expect(sent.map((s) => s.url)).toEqual([
      `${baseUrl}/projects/1/jobs?pagination=keyset&order_by=id&sort=desc&per_page=2`,
      `${baseUrl}/projects/1/jobs?order_by=id&pagination=keyset&per_page=2&sort=desc&cursor=${cursors[0]}`,
      `${baseUrl}/projects/1/jobs?order_by=id&pagination=keyset&per_page=2&sort=desc&cursor=${cursors[1]}`,
    ]);
    expect(sent.every((s) => s.headers["job-token"] === "ci")).toBe(true);
  });

  it("stops at maxPages, and requests no page that is not iterated", async () => {
    const { fetch, sent } = fakeFetch(offsetServer(100, true));
    const client = createJobsClient({ baseUrl, fetch });
    const ids: number[] = [];
    for await (const job of client.paginate("listProjectJobs", { id: 1, per_page: 10 }, { maxPages: 3 })) {
      ids.push(job.id);
    }
    expect(ids).toHaveLength(30);
    expect(sent).toHaveLength(3);

    for await (const job of client.paginate("listProjectJobs", { id: 1, per_page: 10 })) {
      if (job.id === 95) break;
    }
    expect(sent).toHaveLength(4);

    await expect(client.pages("listProjectJobs", { id: 1 }, { maxPages: 0 }).next()).rejects.toThrow(
      RangeError,
    );
  });

  it("refuses to send the token to another origin named by rel=next", async () => {
    const { fetch, sent } = fakeFetch(() =>
      json(jobs(1), {
        headers: { Link: '<https://evil.example.net/api/v4/projects/1/jobs?page=2>; rel="next"' },
      }),
    );
    const pages = createJobsClient({ baseUrl, token: "secret", fetch }).pages("listProjectJobs", { id: 1 });
    await expect(pages.next()).resolves.toMatchObject({ done: false });
    await expect(pages.next()).rejects.toThrow(/another origin/);
    expect(sent).toHaveLength(1);
  });

  it("fails with JobsApiError on a malformed Link header or a non-array body", async () => {
    const broken = createJobsClient({
      baseUrl,
      fetch: fakeFetch(() => json(jobs(1), { headers: { Link: "page=2; rel=next" } })).fetch,
    });
    await expect(broken.page("listProjectJobs", { id: 1 })).rejects.toThrow(JobsApiError);

    const notAList = createJobsClient({ baseUrl, fetch: fakeFetch(() => json({ id: 1 })).fetch });
    await expect(notAList.page("listProjectJobs", { id: 1 })).rejects.toThrow(/expected a JSON array/);
  });
});

describe("parseLinkHeader", () => {
  const base = "https://gitlab.example.com/api/v4/projects/1/jobs?page=1";

  it("reads GitLab's header", () => {
    const header =
      '<https://gitlab.example.com/api/v4/projects/1/pipelines/6/jobs?page=2&per_page=20&scope%5B%5D=failed>; rel="next", <https://gitlab.example.com/api/v4/projects/1/pipelines/6/jobs?page=1&per_page=20&scope%5B%5D=failed>; rel="first", <https://gitlab.example.com/api/v4/projects/1/pipelines/6/jobs?page=3&per_page=20&scope%5B%5D=failed>; rel="last"';
    expect(parseLinkHeader(header, base)).toEqual({
      next: "https://gitlab.example.com/api/v4/projects/1/pipelines/6/jobs?page=2&per_page=20&scope%5B%5D=failed",
      first:
        "https://gitlab.example.com/api/v4/projects/1/pipelines/6/jobs?page=1&per_page=20&scope%5B%5D=failed",
      last: "https://gitlab.example.com/api/v4/projects/1/pipelines/6/jobs?page=3&per_page=20&scope%5B%5D=failed",
    });
  });

  it("handles RFC 8288 details: commas in URLs, several relations, other params, relative URLs, case", () => {
    const header =
      '</api/v4/projects/1/jobs?page=2&x=a,b;c>; title="next, please"; REL="Next Last", <https://gitlab.example.com/other>;rel=first;rel=prev , <https://gitlab.example.com/dup>; rel="next"';
    expect(parseLinkHeader(header, base)).toEqual({
      next: "https://gitlab.example.com/api/v4/projects/1/jobs?page=2&x=a,b;c",
      last: "https://gitlab.example.com/api/v4/projects/1/jobs?page=2&x=a,b;c",
      first: "https://gitlab.example.com/other",
    });
    expect(parseLinkHeader("", base)).toEqual({});
  });

  it("handles a header far over 2,000 characters (long keyset cursors)", () => {
    const cursor = "c".repeat(5000);
    expect(parseLinkHeader(`<${base}&cursor=${cursor}>; rel="next"`, base).next).toBe(
      `${base}&cursor=${cursor}`,
    );
  });

  it.each([
    "https://gitlab.example.com/x; rel=next",
    '<https://gitlab.example.com/x>; rel="next" garbage',
    '<https://gitlab.example.com/x>; rel="next" <https://gitlab.example.com/y>; rel="last"',
    '<https://gitlab.example.com/x>; rel="unterminated',
  ])("rejects %s", (header) => {
    expect(() => parseLinkHeader(header, base)).toThrow(SyntaxError);
  });
});
