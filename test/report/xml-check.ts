// A strict little XML 1.0 reader for the report tests (no XML package is installed, and none may
// be added): well-formedness (nesting, one root, quoted unique attributes, only valid characters
// and references), then a tree the JUnit structure check walks.
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated, decoded text directly inside this element. */
  text: string;
  /** Text and child elements in document order. */
  content: (string | XmlElement)[];
}

/** All text inside an element, in document order. */
export function textOf(el: XmlElement): string {
  return el.content.map((c) => (typeof c === "string" ? c : textOf(c))).join("");
}

export class XmlError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
  }
}

const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function validCodePoint(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function decode(raw: string, base: number): string {
  return raw.replace(/&([^;]*);?/g, (m, body: string, at: number) => {
    if (!m.endsWith(";")) throw new XmlError("bare & (unterminated reference)", base + at);
    if (body in PREDEFINED) return PREDEFINED[body]!;
    const num = /^#x([0-9a-fA-F]+)$/.exec(body) ?? /^#([0-9]+)$/.exec(body);
    if (!num) throw new XmlError(`unknown entity &${body};`, base + at);
    const cp = parseInt(num[1]!, body.startsWith("#x") ? 16 : 10);
    if (!validCodePoint(cp)) throw new XmlError(`reference to a character XML forbids: &${body};`, base + at);
    return String.fromCodePoint(cp);
  });
}

export function parseXml(src: string): XmlElement {
  const bad = INVALID.exec(src);
  if (bad) throw new XmlError(`character U+${bad[0].charCodeAt(0).toString(16)} is not allowed in XML`, bad.index);
  let i = 0;
  const fail = (msg: string): never => {
    throw new XmlError(msg, i);
  };
  const skipMisc = (): void => {
    for (;;) {
      while (i < src.length && /\s/.test(src[i]!)) i++;
      if (src.startsWith("<!--", i)) {
        const end = src.indexOf("-->", i + 4);
        if (end < 0) fail("unterminated comment");
        i = end + 3;
      } else if (src.startsWith("<!DOCTYPE", i)) {
        const end = src.indexOf(">", i);
        if (end < 0 || src.slice(i, end).includes("[")) fail("unsupported DOCTYPE");
        i = end + 1;
      } else return;
    }
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) fail("expected a name");
    i += m![0].length;
    return m![0];
  };
  if (src.startsWith("<?xml", 0)) {
    const end = src.indexOf("?>");
    if (end < 0) fail("unterminated XML declaration");
    if (!/^<\?xml version="1\.0"( encoding="UTF-8")?\?>$/.test(src.slice(0, end + 2))) fail("unexpected XML declaration");
    i = end + 2;
  }
  skipMisc();
  const element = (): XmlElement => {
    if (src[i] !== "<") fail("expected <");
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: "", content: [] };
    for (;;) {
      const ws = i;
      while (/\s/.test(src[i] ?? "")) i++;
      if (src.startsWith("/>", i)) {
        i += 2;
        return el;
      }
      if (src[i] === ">") {
        i++;
        break;
      }
      if (i === ws) fail("expected whitespace before an attribute");
      const key = name();
      if (src[i] !== "=") fail(`expected = after attribute ${key}`);
      i++;
      const q = src[i];
      if (q !== '"' && q !== "'") fail(`attribute ${key} is not quoted`);
      const end = src.indexOf(q!, i + 1);
      if (end < 0) fail("unterminated attribute value");
      const raw = src.slice(i + 1, end);
      if (raw.includes("<")) fail(`< inside attribute ${key}`);
      if (key in el.attrs) fail(`duplicate attribute ${key}`);
      el.attrs[key] = decode(raw, i + 1);
      i = end + 1;
    }
    for (;;) {
      const lt = src.indexOf("<", i);
      if (lt < 0) fail(`element <${el.name}> is not closed`);
      const raw = src.slice(i, lt);
      if (raw.includes("]]>")) fail("]]> in text");
      const decoded = decode(raw, i);
      el.text += decoded;
      if (decoded) el.content.push(decoded);
      i = lt;
      if (src.startsWith("</", i)) {
        i += 2;
        const close = name();
        if (close !== el.name) fail(`</${close}> closes <${el.name}>`);
        while (/\s/.test(src[i] ?? "")) i++;
        if (src[i] !== ">") fail("expected >");
        i++;
        return el;
      }
      if (src.startsWith("<!--", i)) {
        const end = src.indexOf("-->", i + 4);
        if (end < 0) fail("unterminated comment");
        i = end + 3;
        continue;
      }
      if (src.startsWith("<!", i) || src.startsWith("<?", i)) fail("CDATA, DOCTYPE or processing instruction inside an element");
      const child = element();
      el.children.push(child);
      el.content.push(child);
    }
  };
  const root = element();
  skipMisc();
  if (i !== src.length) fail("content after the root element");
  return root;
}

/** Every element of the tree, depth first. */
export function* walk(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const c of el.children) yield* walk(c);
}

// The structure of Jenkins' junit-10.xsd (xunit-plugin), which GitLab and the GitHub test reporters accept too.
const TIME = /^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$/;
const RULES: Record<string, { required: string[]; allowed: string[]; children: string[]; text: boolean }> = {
  testsuites: { required: [], allowed: ["name", "time", "tests", "failures", "errors"], children: ["testsuite"], text: false },
  testsuite: {
    required: ["name", "tests", "failures", "errors"],
    allowed: ["group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"],
    children: ["testsuite", "properties", "testcase", "system-out", "system-err"],
    text: false,
  },
  properties: { required: [], allowed: [], children: ["property"], text: false },
  property: { required: ["name", "value"], allowed: [], children: [], text: false },
  testcase: { required: ["name"], allowed: ["time", "classname", "group"], children: ["skipped", "error", "failure", "system-out", "system-err"], text: false },
  failure: { required: [], allowed: ["type", "message"], children: [], text: true },
  error: { required: [], allowed: ["type", "message"], children: [], text: true },
  skipped: { required: [], allowed: ["type", "message"], children: [], text: true },
  "system-out": { required: [], allowed: [], children: [], text: true },
  "system-err": { required: [], allowed: [], children: [], text: true },
};

/** Problems against the JUnit schema structure, plus the counts agreeing with the test cases; [] when valid. */
export function junitProblems(root: XmlElement): string[] {
  const problems: string[] = [];
  if (root.name !== "testsuites") problems.push(`root is <${root.name}>, not <testsuites>`);
  for (const el of walk(root)) {
    const rule = RULES[el.name];
    if (!rule) {
      problems.push(`unknown element <${el.name}>`);
      continue;
    }
    for (const r of rule.required) if (!(r in el.attrs)) problems.push(`<${el.name}> lacks ${r}`);
    for (const a of Object.keys(el.attrs)) if (!rule.required.includes(a) && !rule.allowed.includes(a)) problems.push(`<${el.name}> has unknown attribute ${a}`);
    for (const c of el.children) if (!rule.children.includes(c.name)) problems.push(`<${c.name}> not allowed in <${el.name}>`);
    if (!rule.text && el.text.trim() !== "") problems.push(`<${el.name}> has text`);
    if ("time" in el.attrs && (el.name === "testsuite" || el.name === "testsuites") && !TIME.test(el.attrs.time!)) problems.push(`bad time ${el.attrs.time}`);
  }
  let total = { tests: 0, failures: 0, errors: 0 };
  for (const suite of root.children.filter((c) => c.name === "testsuite")) {
    const cases = suite.children.filter((c) => c.name === "testcase");
    const counts = {
      tests: cases.length,
      failures: cases.filter((c) => c.children.some((x) => x.name === "failure")).length,
      errors: cases.filter((c) => c.children.some((x) => x.name === "error")).length,
    };
    for (const k of ["tests", "failures", "errors"] as const) {
      if (suite.attrs[k] !== String(counts[k])) problems.push(`testsuite ${suite.attrs.name}: ${k}=${suite.attrs[k]} but ${counts[k]} counted`);
    }
    total = { tests: total.tests + counts.tests, failures: total.failures + counts.failures, errors: total.errors + counts.errors };
  }
  for (const k of ["tests", "failures", "errors"] as const) {
    if (k in root.attrs && root.attrs[k] !== String(total[k])) problems.push(`testsuites: ${k}=${root.attrs[k]} but ${total[k]} counted`);
  }
  return problems;
}
