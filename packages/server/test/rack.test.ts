import { describe, expect, it } from "vitest";
import { parseRackQuery, RackParameterError } from "../src/http/rack.js";

// The cases of Rack 2.2's own test of `parse_nested_query` (rack/rack test/spec_utils.rb, "parse nested
// query strings correctly" and "only moves to a new array when the full key has been seen").
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe("parseRackQuery (Rack 2.2 parse_nested_query)", () => {
  it.each<[string, unknown]>([
    ["foo", { foo: null }],
    ["foo=", { foo: "" }],
    ["foo=bar", { foo: "bar" }],
    ['foo="bar"', { foo: '"bar"' }],
    ["foo=bar&foo=quux", { foo: "quux" }],
    ["foo&foo=", { foo: "" }],
    ["foo=1&bar=2", { foo: "1", bar: "2" }],
    ["&foo=1&&bar=2", { foo: "1", bar: "2" }],
    ["foo&bar=", { foo: null, bar: "" }],
    ["foo=bar&baz=", { foo: "bar", baz: "" }],
    ["my+weird+field=q1%212%22%27w%245%267%2Fz8%29%3F", { "my weird field": "q1!2\"'w$5&7/z8)?" }],
    ["a=b&pid%3D1234=1023", { "pid=1234": "1023", a: "b" }],
    ["foo[]", { foo: [null] }],
    ["foo[]=", { foo: [""] }],
    ["foo[]=bar", { foo: ["bar"] }],
    ["foo[]=bar&foo", { foo: null }],
    ["foo[]=bar&foo[", { foo: ["bar"], "foo[": null }],
    ["foo[]=bar&foo[=baz", { foo: ["bar"], "foo[": "baz" }],
    ["foo[]=bar&foo[]", { foo: ["bar", null] }],
    ["foo[]=bar&foo[]=", { foo: ["bar", ""] }],
    ["foo[]=1&foo[]=2", { foo: ["1", "2"] }],
    ["foo=bar&baz[]=1&baz[]=2&baz[]=3", { foo: "bar", baz: ["1", "2", "3"] }],
    ["x[y][z]=1", { x: { y: { z: "1" } } }],
    ["x[y][z][]=1", { x: { y: { z: ["1"] } } }],
    ["x[y][z]=1&x[y][z]=2", { x: { y: { z: "2" } } }],
    ["x[y][z][]=1&x[y][z][]=2", { x: { y: { z: ["1", "2"] } } }],
    ["x[y][][z]=1", { x: { y: [{ z: "1" }] } }],
    ["x[y][][z][]=1", { x: { y: [{ z: ["1"] }] } }],
    ["x[y][][z]=1&x[y][][w]=2", { x: { y: [{ z: "1", w: "2" }] } }],
    ["x[y][][v][w]=1", { x: { y: [{ v: { w: "1" } }] } }],
    ["x[y][][z]=1&x[y][][v][w]=2", { x: { y: [{ z: "1", v: { w: "2" } }] } }],
    ["x[y][][z]=1&x[y][][z]=2", { x: { y: [{ z: "1" }, { z: "2" }] } }],
    [
      "x[y][][z]=1&x[y][][w]=a&x[y][][z]=2&x[y][][w]=3",
      {
        x: {
          y: [
            { z: "1", w: "a" },
            { z: "2", w: "3" },
          ],
        },
      },
    ],
    [
      "x[][y]=1&x[][z][w]=a&x[][y]=2&x[][z][w]=b",
      {
        x: [
          { y: "1", z: { w: "a" } },
          { y: "2", z: { w: "b" } },
        ],
      },
    ],
    [
      "x[][z][w]=a&x[][y]=1&x[][z][w]=b&x[][y]=2",
      {
        x: [
          { y: "1", z: { w: "a" } },
          { y: "2", z: { w: "b" } },
        ],
      },
    ],
    [
      "data[books][][data][page]=1&data[books][][data][page]=2",
      { data: { books: [{ data: { page: "1" } }, { data: { page: "2" } }] } },
    ],
    ["x[][y][][z]=1&x[][y][][w]=2", { x: [{ y: [{ z: "1", w: "2" }] }] }],
    [
      "x[][id]=1&x[][y][a]=5&x[][y][b]=7&x[][z][id]=3&x[][z][w]=0&x[][id]=2&x[][y][a]=6&x[][y][b]=8&x[][z][id]=4&x[][z][w]=0",
      {
        x: [
          { id: "1", y: { a: "5", b: "7" }, z: { id: "3", w: "0" } },
          { id: "2", y: { a: "6", b: "8" }, z: { id: "4", w: "0" } },
        ],
      },
    ],
    // Beyond Rack's own cases, those of GitLab's parameters: an empty value still counts as the key set.
    ["a[][k]=&a[][k]=x", { a: [{ k: "" }, { k: "x" }] }],
    ["scope[0]=failed&scope[1]=success", { scope: { "0": "failed", "1": "success" } }],
    ["scope[]=failed&scope=success", { scope: "success" }],
    ["__proto__[x]=1", { ["__proto__"]: { x: "1" } }],
  ])("%s", (query, expected) => {
    expect(plain(parseRackQuery(query))).toEqual(plain(expected));
  });

  it.each([
    ["x[y]=1&x[y]z=2", "expected Hash (got String) for param `y'"],
    ["x[y]=1&x[]=1", "expected Array (got Hash) for param `x'"],
    ["x[y]=1&x[y][][w]=2", "expected Array (got String) for param `y'"],
    ["a=%", "invalid %-encoding"],
  ])("refuses %s as Rack does", (query, reason) => {
    expect(() => parseRackQuery(query)).toThrow(RackParameterError);
    expect(() => parseRackQuery(query)).toThrow(reason);
  });

  it("refuses keys nested 100 deep, as Rack's param_depth_limit, and reads 99", () => {
    expect(() => parseRackQuery(`foo${"[a]".repeat(100)}=bar`)).toThrow(RackParameterError);
    expect(() => parseRackQuery(`foo${"[a]".repeat(99)}=bar`)).not.toThrow();
  });
});
