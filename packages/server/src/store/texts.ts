/**
 * `build`, called once per distinct arguments: statement texts that depend only on their shape (never on
 * values, which travel as parameters), so there are a few dozen. Every request then hands the read cache
 * and the prepared statements the same string, whose hash V8 keeps; building and hashing a new text on each
 * request was ~2 % of a request's samples.
 */
export function textPerShape<A extends readonly (string | number | boolean)[]>(
  build: (...args: A) => string,
): (...args: A) => string {
  const texts = new Map<string, string>();
  return (...args) => {
    // No shape argument holds a NUL, so the joined key names one shape.
    const key = args.join("\0");
    let text = texts.get(key);
    if (text === undefined) {
      text = build(...args);
      texts.set(key, text);
    }
    return text;
  };
}
